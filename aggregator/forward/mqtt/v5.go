package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// link5 speaks MQTT 5 through paho.golang's autopaho. Its session state
// outlives a connection: a publish waiting for its PUBACK when the
// connection drops is resent (DUP, same packet ID) after the reconnect into
// the session the broker kept (session expiry), and the waiting call returns
// on that PUBACK. When the broker kept no session, the library forgets its
// in-flight messages silently; those publishes are ended here so that Send
// publishes them again at once instead of after ack_timeout.
type link5 struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	cm       *autopaho.ConnectionManager // set once run has started it
	ready    chan struct{}               // closed when cm is set
	inflight map[*int]inflight5

	up      atomic.Bool
	attempt atomic.Uint64 // connection attempts begun
	// maxPacket is the Maximum Packet Size the broker announced; 0: none.
	maxPacket atomic.Uint32
}

// inflight5 is a publish waiting for its PUBACK.
type inflight5 struct {
	attempt uint64 // the connection attempt it began under
	cancel  context.CancelCauseFunc
}

// errSessionLost: the broker came back without our session, and with it the
// library's record of the message.
var errSessionLost = errors.New("broker kept no session; message published again")

func newLink5(cfg Config, log *slog.Logger) *link5 {
	return &link5{cfg: cfg, log: log, ready: make(chan struct{}), inflight: make(map[*int]inflight5)}
}

// connectionUp ends the publishes begun before this connection when the
// broker has no session for them.
func (l *link5) connectionUp(sessionPresent bool) {
	if sessionPresent {
		return
	}
	now := l.attempt.Load()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.inflight {
		if f.attempt < now {
			f.cancel(errSessionLost)
		}
	}
}

func (l *link5) run(ctx context.Context, tlsCfg *tls.Config) error {
	u, err := url.Parse(l.cfg.Broker)
	if err != nil {
		return fmt.Errorf("mqtt broker: %w", err)
	}
	expiry := uint32(l.cfg.SessionExpiry / time.Second)
	pace := &pacer{lo: l.cfg.ReconnectMin, hi: l.cfg.ReconnectMax}
	cc := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        tlsCfg,
		KeepAlive:                     uint16(l.cfg.KeepAlive / time.Second),
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         expiry,
		ConnectTimeout:                l.cfg.ConnectTimeout,
		// autopaho starts its count again after every connection, so one
		// the broker drops at once would be retried at once, forever.
		ReconnectBackoff: func(int) time.Duration {
			l.attempt.Add(1)
			return pace.next(time.Now())
		},
		OnConnectionUp: func(_ *autopaho.ConnectionManager, ca *paho.Connack) {
			pace.up(time.Now())
			l.maxPacket.Store(0)
			if ca.Properties != nil && ca.Properties.MaximumPacketSize != nil {
				l.maxPacket.Store(*ca.Properties.MaximumPacketSize)
			}
			l.up.Store(true)
			l.connectionUp(ca.SessionPresent)
			l.log.Info("mqtt connected", "version", "5", "session_present", ca.SessionPresent)
		},
		OnConnectionDown: func() bool {
			l.up.Store(false)
			l.log.Warn("mqtt connection lost")
			return true
		},
		OnConnectError: func(err error) { l.log.Warn("mqtt connect failed", "err", err) },
		ClientConfig: paho.ClientConfig{
			ClientID: l.cfg.ClientID,
			// Publish waits this long for its PUBACK, across reconnects.
			PacketTimeout: l.cfg.AckTimeout,
			OnClientError: func(err error) { l.log.Debug("mqtt client error", "err", err) },
		},
	}
	if l.cfg.Username != "" {
		cc.ConnectUsername = l.cfg.Username
	}
	if l.cfg.Password != "" {
		cc.ConnectPassword = []byte(l.cfg.Password)
	}
	// autopaho keeps its connection until its context ends; a context of our
	// own lets Disconnect send DISCONNECT before that.
	cmCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	cm, err := autopaho.NewConnection(cmCtx, cc)
	if err != nil {
		return fmt.Errorf("mqtt connection: %w", err)
	}
	l.mu.Lock()
	l.cm = cm
	close(l.ready)
	l.mu.Unlock()

	select {
	case <-ctx.Done():
	case <-cm.Done():
		l.up.Store(false)
		return nil
	}
	dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer dcancel()
	_ = cm.Disconnect(dctx)
	cancel()
	<-cm.Done()
	l.up.Store(false)
	return nil
}

func (l *link5) connected() bool { return l.up.Load() }

func (l *link5) publish(ctx context.Context, topic string, payload []byte) error {
	select {
	case <-l.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	l.mu.Lock()
	cm := l.cm
	l.mu.Unlock()
	if err := cm.AwaitConnection(ctx); err != nil {
		return err
	}
	// A message past the broker's limit would cost the connection, and the
	// session would resend it on every new one.
	if err := checkSize(5, topic, payload, int(min(l.maxPacket.Load(), maxPacket))); err != nil {
		return err
	}
	pctx, cancel := context.WithCancelCause(ctx)
	key := new(int)
	l.mu.Lock()
	l.inflight[key] = inflight5{attempt: l.attempt.Load(), cancel: cancel}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.inflight, key)
		l.mu.Unlock()
		cancel(nil)
	}()
	resp, err := cm.Publish(pctx, &paho.Publish{QoS: 1, Topic: topic, Payload: payload})
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(pctx), errSessionLost) {
		return errSessionLost
	}
	if resp != nil && resp.ReasonCode >= 0x80 {
		rej := &RejectedError{Code: resp.ReasonCode}
		if resp.Properties != nil {
			rej.Reason = resp.Properties.ReasonString
		}
		return rej
	}
	return err
}
