package mqtt

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync"
	"time"

	paho3 "github.com/eclipse/paho.mqtt.golang"
)

// link311 speaks MQTT 3.1.1 through paho.mqtt.golang, with its own reconnect
// loop: that library's auto-reconnect completes a publish token without error
// when the connection drops before the PUBACK (documented in its README), so
// a token could not prove acceptance. Here every connection is a new client,
// and a publish not acknowledged on its connection is sent again by Send.
type link311 struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	cur     *conn311      // nil while disconnected
	changed chan struct{} // closed and replaced whenever cur changes
}

type conn311 struct {
	client   paho3.Client
	lost     chan struct{}
	lostOnce sync.Once
}

func (c *conn311) markLost() { c.lostOnce.Do(func() { close(c.lost) }) }

func newLink311(cfg Config, log *slog.Logger) *link311 {
	return &link311{cfg: cfg, log: log, changed: make(chan struct{})}
}

func (l *link311) set(c *conn311) {
	l.mu.Lock()
	l.cur = c
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *link311) run(ctx context.Context, tlsCfg *tls.Config) error {
	pace := &pacer{lo: l.cfg.ReconnectMin, hi: l.cfg.ReconnectMax}
	for attempt := 1; ; attempt++ {
		if !sleep(ctx, pace.next(time.Now())) {
			return nil
		}
		c, err := l.connect(ctx, tlsCfg)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			l.log.Warn("mqtt connect failed", "attempt", attempt, "err", err)
			continue
		}
		pace.up(time.Now())
		attempt = 0
		l.log.Info("mqtt connected", "version", "3.1.1")
		l.set(c)
		select {
		case <-c.lost:
			l.set(nil)
			c.client.Disconnect(0)
			l.log.Warn("mqtt connection lost")
		case <-ctx.Done():
			l.set(nil)
			c.client.Disconnect(250)
			return nil
		}
	}
}

func (l *link311) connect(ctx context.Context, tlsCfg *tls.Config) (*conn311, error) {
	c := &conn311{lost: make(chan struct{})}
	o := paho3.NewClientOptions().
		AddBroker(l.cfg.Broker).
		SetClientID(l.cfg.ClientID).
		SetProtocolVersion(4).
		SetCleanSession(false).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(l.cfg.KeepAlive).
		SetConnectTimeout(l.cfg.ConnectTimeout).
		SetWriteTimeout(l.cfg.ConnectTimeout).
		SetConnectionLostHandler(func(_ paho3.Client, err error) {
			l.log.Debug("mqtt connection lost", "err", err)
			c.markLost()
		})
	if l.cfg.Username != "" {
		o.SetUsername(l.cfg.Username).SetPassword(l.cfg.Password)
	}
	if tlsCfg != nil {
		o.SetTLSConfig(tlsCfg)
	}
	c.client = paho3.NewClient(o)
	tok := c.client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		// The library's connect cannot be cancelled; it ends within ConnectTimeout.
		tok.WaitTimeout(l.cfg.ConnectTimeout)
		c.client.Disconnect(0)
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		c.client.Disconnect(0)
		return nil, fmt.Errorf("connect %s: %w", redact(l.cfg.Broker), err)
	}
	return c, nil
}

func (l *link311) connected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur != nil
}

// await returns the current connection, waiting for one.
func (l *link311) await(ctx context.Context) (*conn311, error) {
	for {
		l.mu.Lock()
		c, changed := l.cur, l.changed
		l.mu.Unlock()
		if c != nil {
			return c, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (l *link311) publish(ctx context.Context, topic string, payload []byte) error {
	c, err := l.await(ctx)
	if err != nil {
		return err
	}
	tok := c.client.Publish(topic, 1, false, payload)
	t := time.NewTimer(l.cfg.AckTimeout)
	defer t.Stop()
	// With auto-reconnect off, a QoS 1 token completes without error only on
	// its PUBACK; connection loss and Disconnect complete it with an error.
	select {
	case <-tok.Done():
		return tok.Error()
	case <-c.lost:
		if acked(tok) {
			return nil
		}
		return errConnectionLost
	case <-t.C:
		if acked(tok) {
			return nil
		}
		c.markLost()
		return errAckTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}

func acked(tok paho3.Token) bool {
	select {
	case <-tok.Done():
		return tok.Error() == nil
	default:
		return false
	}
}
