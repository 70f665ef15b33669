package opcua

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

const (
	// heartbeatEvery is how often the server's CurrentTime is read.
	heartbeatEvery = 5 * time.Second
	// heartbeatMisses failed reads in a row end the session.
	heartbeatMisses = 3
)

// heartbeat reads the server's CurrentTime (ns=0;i=2258) every interval
// until ctx is done. Each answer proves the session alive and measures
// the clock skew between the server and the agent; after heartbeatMisses
// failures in a row, or a CurrentTime that stops advancing, fail is called
// once and heartbeat returns.
//
// Once live holds a liveness check (the subscription is running), each
// successful heartbeat also runs it; a silent subscription is counted,
// logged and ends the session the same way.
func (r *Reader) heartbeat(ctx context.Context, c *opcua.Client, every time.Duration, live *atomic.Pointer[liveCheck], fail func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	misses := 0
	var lastServer time.Time
	stuck := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		server, skew, err := readCurrentTime(ctx, c, every)
		if ctx.Err() != nil {
			return
		}
		if err == nil && !lastServer.IsZero() && !server.After(lastServer) {
			stuck++
			if stuck >= heartbeatMisses {
				err = fmt.Errorf("server CurrentTime stuck at %s", server.UTC().Format(time.RFC3339Nano))
			}
		} else if err == nil {
			stuck = 0
		}
		if err != nil {
			misses++
			r.heartbeatFailures.Add(1)
			if misses >= heartbeatMisses || stuck >= heartbeatMisses {
				fail(fmt.Errorf("heartbeat: %d failed reads of the server's CurrentTime: %w", misses, err))
				return
			}
			continue
		}
		misses = 0
		lastServer = server
		r.heartbeats.Add(1)
		r.skewNs.Store(int64(skew))
		r.skewKnown.Store(true)
		if lc := live.Load(); lc != nil {
			if err := lc.check(ctx, c, every); err != nil && ctx.Err() == nil {
				r.deadSubscriptions.Add(1)
				r.logger.Warn("subscription sends keep-alives but no data changes; rebuilding the session", "err", err)
				fail(err)
				return
			}
		}
	}
}

// readCurrentTime reads the server's clock and returns it with the skew
// (server minus agent, taken at the midpoint of the round trip).
func readCurrentTime(ctx context.Context, c *opcua.Client, timeout time.Duration) (time.Time, time.Duration, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sent := time.Now()
	res, err := c.Read(cctx, &ua.ReadRequest{
		NodesToRead:        []*ua.ReadValueID{{NodeID: ua.NewNumericNodeID(0, id.Server_ServerStatus_CurrentTime), AttributeID: ua.AttributeIDValue}},
		TimestampsToReturn: ua.TimestampsToReturnNeither,
	})
	got := time.Now()
	if err != nil {
		return time.Time{}, 0, err
	}
	if len(res.Results) != 1 || res.Results[0] == nil || isBad(res.Results[0].Status) {
		return time.Time{}, 0, fmt.Errorf("read CurrentTime: %v", res.Results)
	}
	server, ok := valueOf(res.Results[0]).(time.Time)
	if !ok || server.IsZero() {
		// Fall back on the response header's timestamp.
		if res.ResponseHeader == nil || res.ResponseHeader.Timestamp.IsZero() {
			return time.Time{}, 0, fmt.Errorf("read CurrentTime: got %T", valueOf(res.Results[0]))
		}
		server = res.ResponseHeader.Timestamp
	}
	mid := sent.Add(got.Sub(sent) / 2)
	return server, server.Sub(mid), nil
}
