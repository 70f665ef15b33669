package mqtt

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// link5 speaks MQTT 5 through paho.golang's autopaho. Its session state
// outlives a connection: a publish waiting for its PUBACK when the
// connection drops is resent (DUP, same packet ID) after the reconnect into
// the session the broker kept (session expiry), and the waiting call returns
// on that PUBACK.
type link5 struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	cm    *autopaho.ConnectionManager // set once run has started it
	ready chan struct{}               // closed when cm is set
}

func newLink5(cfg Config, log *slog.Logger) *link5 {
	return &link5{cfg: cfg, log: log, ready: make(chan struct{})}
}

func (l *link5) run(ctx context.Context, tlsCfg *tls.Config) error {
	u, err := url.Parse(l.cfg.Broker)
	if err != nil {
		return fmt.Errorf("mqtt broker: %w", err)
	}
	expiry := uint32(l.cfg.SessionExpiry / time.Second)
	cc := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        tlsCfg,
		KeepAlive:                     uint16(l.cfg.KeepAlive / time.Second),
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         expiry,
		ConnectTimeout:                l.cfg.ConnectTimeout,
		ReconnectBackoff: func(n int) time.Duration {
			if n == 0 {
				return 0
			}
			return backoff(n-1, l.cfg.ReconnectMin, l.cfg.ReconnectMax)
		},
		OnConnectionUp: func(_ *autopaho.ConnectionManager, ca *paho.Connack) {
			l.log.Info("mqtt connected", "version", "5", "session_present", ca.SessionPresent)
		},
		OnConnectionDown: func() bool {
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
		return nil
	}
	dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer dcancel()
	_ = cm.Disconnect(dctx)
	cancel()
	<-cm.Done()
	return nil
}

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
	resp, err := cm.Publish(ctx, &paho.Publish{QoS: 1, Topic: topic, Payload: payload})
	if resp != nil && resp.ReasonCode >= 0x80 {
		rej := &RejectedError{Code: resp.ReasonCode}
		if resp.Properties != nil {
			rej.Reason = resp.Properties.ReasonString
		}
		return rej
	}
	return err
}
