package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
)

// link is one protocol version's connection: run keeps it connected until
// ctx ends; publish waits for a connection and then for the PUBACK.
type link interface {
	run(ctx context.Context, tlsCfg *tls.Config) error
	publish(ctx context.Context, topic string, payload []byte) error
	connected() bool
}

// Publisher sends payloads to one broker. Run owns the connection and must
// be running for Send to get anywhere; Send may be called from many
// goroutines, at most MaxInflight of them waiting for a PUBACK at once.
type Publisher struct {
	cfg  Config
	log  *slog.Logger
	link link
	sem  chan struct{}

	closing   chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	running bool
	runDone chan struct{}
	sends   map[*int]context.CancelFunc // in-flight Sends, cancelled by Close
}

// New checks cfg and returns a publisher; it connects only when Run is called.
func New(cfg Config, log *slog.Logger) (*Publisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("broker", redact(cfg.Broker), "client_id", cfg.ClientID)
	p := &Publisher{
		cfg:     cfg,
		log:     log,
		sem:     make(chan struct{}, cfg.MaxInflight),
		closing: make(chan struct{}),
		runDone: make(chan struct{}),
		sends:   make(map[*int]context.CancelFunc),
	}
	if cfg.Version == 3 {
		p.link = newLink311(cfg, log)
	} else {
		p.link = newLink5(cfg, log)
	}
	return p, nil
}

// Run connects and keeps the connection, reconnecting with backoff, until
// ctx is done or Close is called. It returns early only when the TLS files
// cannot be loaded.
func (p *Publisher) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.running {
		p.mu.Unlock()
		return errors.New("mqtt publisher already running")
	}
	select {
	case <-p.closing:
		p.mu.Unlock()
		return ErrClosed
	default:
	}
	p.running = true
	p.mu.Unlock()
	defer p.endSends()
	defer close(p.runDone)

	u, _ := url.Parse(p.cfg.Broker)
	tlsCfg, err := p.cfg.TLS.load(isTLSScheme(u.Scheme))
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-p.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	defer wg.Wait()
	defer cancel()
	return p.link.run(ctx, tlsCfg)
}

func isTLSScheme(s string) bool {
	switch strings.ToLower(s) {
	case "mqtts", "ssl", "tls":
		return true
	}
	return false
}

// Send publishes payload to topic with QoS 1 and returns nil only once the
// broker has acknowledged it. A lost connection or a missing PUBACK makes it
// send again (a duplicate is possible, as QoS 1 allows); it gives up only
// when ctx is done, the publisher is closed or the broker refuses the
// message for good (*RejectedError).
func (p *Publisher) Send(ctx context.Context, topic string, payload []byte) error {
	if err := ValidTopic(topic); err != nil {
		return err
	}
	if err := checkSize(p.cfg.Version, topic, payload, p.cfg.MaxPacketSize); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.closing:
		return ErrClosed
	case <-p.runDone:
		return ErrClosed
	}
	defer func() { <-p.sem }()

	ctx, done, err := p.track(ctx)
	if err != nil {
		return err
	}
	defer done()

	for attempt := 0; ; attempt++ {
		err := p.link.publish(ctx, topic, payload)
		if err == nil {
			return nil
		}
		if p.isClosed() {
			return ErrClosed
		}
		var rej *RejectedError
		if errors.As(err, &rej) && rej.Permanent() {
			return fmt.Errorf("publish to %s: %w", topic, err)
		}
		if ctx.Err() != nil {
			// Run ending cancels the sends after it marks itself done, so a
			// send cancelled between the check above and here is closed too.
			if p.isClosed() {
				return ErrClosed
			}
			return fmt.Errorf("publish to %s: %w", topic, context.Cause(ctx))
		}
		p.log.Debug("mqtt publish retried", "topic", topic, "attempt", attempt+1, "err", err)
		if !sleep(ctx, backoff(attempt, p.cfg.ReconnectMin/5, p.cfg.ReconnectMax)) {
			if p.isClosed() {
				return ErrClosed
			}
			return fmt.Errorf("publish to %s: %w", topic, context.Cause(ctx))
		}
	}
}

// Connected reports whether a connection to the broker is up now, for a
// target's health; Send does not need it.
func (p *Publisher) Connected() bool { return p.link.connected() }

// track derives a context Close can cancel.
func (p *Publisher) track(ctx context.Context) (context.Context, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	key := new(int)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.isClosed() {
		cancel()
		return nil, nil, ErrClosed
	}
	p.sends[key] = cancel
	return ctx, func() {
		p.mu.Lock()
		delete(p.sends, key)
		p.mu.Unlock()
		cancel()
	}, nil
}

// isClosed: Close was called or Run has returned; no connection will come.
func (p *Publisher) isClosed() bool {
	select {
	case <-p.closing:
		return true
	case <-p.runDone:
		return true
	default:
		return false
	}
}

// endSends cancels the Sends in flight.
func (p *Publisher) endSends() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cancel := range p.sends {
		cancel()
	}
}

// Close refuses new Sends, cancels the waiting ones (their messages were not
// acknowledged, so the caller sends them again later), disconnects and
// waits for Run to return. It is idempotent and safe without Run.
func (p *Publisher) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		close(p.closing)
		running := p.running
		p.mu.Unlock()
		p.endSends()
		if running {
			<-p.runDone
		}
	})
	return nil
}

// redact drops a password written into the broker URL before it is logged.
func redact(broker string) string {
	u, err := url.Parse(broker)
	if err != nil {
		return broker
	}
	return u.Redacted()
}
