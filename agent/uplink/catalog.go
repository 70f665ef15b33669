package uplink

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// The point catalog travels in the hello, and the aggregator checks every
// sample of a stream against the catalog of that stream's hello. A new
// catalog (a reloaded point list) therefore needs a new stream, opened
// before the first sample of a new point is sent: Recatalog ends the open
// stream gently (no new batches, in-flight ones acked) and the uplink
// opens the next one at once, with the new hello.

// recatalogDrain bounds how long a stream ending for a new catalog waits
// for the acks of its in-flight batches; whatever is still unacked then is
// sent again on the next stream (the aggregator recognises what it has).
const recatalogDrain = 5 * time.Second

// errRecatalog ends a stream so that the next one carries a new catalog.
var errRecatalog = errors.New("stream ended to send a new point catalog")

// openStream is the uplink's record of the stream now open.
type openStream struct {
	stop chan struct{} // closed by Recatalog, or to return to the preferred aggregator
	// switchBack says the stop was to return to the preferred aggregator.
	switchBack atomic.Bool
	done       chan struct{} // closed when the stream's session has ended
	once       sync.Once
}

func (s *openStream) stopNow() { s.once.Do(func() { close(s.stop) }) }

func (s *openStream) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// cancelUntilHandshake makes a new catalog cancel the stream outright
// until the returned function is called: before batches flow there is
// nothing to wait for.
func (s *openStream) cancelUntilHandshake(cancel context.CancelFunc) (end func()) {
	handshook := make(chan struct{})
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-handshook:
		}
	}()
	return sync.OnceFunc(func() { close(handshook) })
}

// Recatalog makes h the hello of every stream from now on and ends the
// stream now open, if any, once its in-flight batches are acked (at most
// recatalogDrain). It returns when no stream with the old hello remains
// open, or when ctx ends. A caller that sends samples of new points only
// after it returned never has them refused as unknown.
func (u *Uplink) Recatalog(ctx context.Context, h *lifelinev1.Hello) error {
	u.helloMu.Lock()
	u.hello = proto.Clone(h).(*lifelinev1.Hello)
	open := u.stream
	u.helloMu.Unlock()
	if open == nil {
		return nil
	}
	open.stopNow()
	select {
	case <-open.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// openStreamRecord registers a new stream and returns the hello it sends.
func (u *Uplink) openStreamRecord() (*lifelinev1.Hello, *openStream) {
	u.helloMu.Lock()
	defer u.helloMu.Unlock()
	s := &openStream{stop: make(chan struct{}), done: make(chan struct{})}
	u.stream = s
	return proto.Clone(u.hello).(*lifelinev1.Hello), s
}

func (u *Uplink) closeStreamRecord(s *openStream) {
	u.helloMu.Lock()
	if u.stream == s {
		u.stream = nil
	}
	u.helloMu.Unlock()
	close(s.done)
}

// drainForCatalog waits, once the stream's sender has stopped, until no
// batch awaits an ack, recatalogDrain passes, or another of the stream's
// goroutines fails.
func (u *Uplink) drainForCatalog(errs <-chan error) error {
	deadline := time.NewTimer(recatalogDrain)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for u.inFlight.Load() > 0 {
		select {
		case err := <-errs:
			if !errors.Is(err, context.Canceled) {
				return err
			}
		case <-deadline.C:
			u.logger.Warn("stream ending: in-flight batches not acked in time; they are sent again on the next stream", "in_flight", u.inFlight.Load())
			return errRecatalog
		case <-tick.C:
		}
	}
	return errRecatalog
}
