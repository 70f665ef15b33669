package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/lifeline-telemetry/lifeline/aggregator/ingest/wire"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// ServerConfig configures the gRPC listener.
type ServerConfig struct {
	Listen string    `yaml:"listen"`
	TLS    ServerTLS `yaml:"tls"`
	// MaxStreams bounds concurrent agent streams, so a reconnect storm
	// queues at the door instead of exhausting the aggregator.
	MaxStreams uint32 `yaml:"max_streams"`
	// MaxMessageBytes bounds one received message.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// Limits bound what one agent may hold of the listener.
	Limits StreamLimits `yaml:"limits"`
}

// ServerTLS holds the server's certificate and the CA that signs agents'
// certificates. Insecure serves plain text, for a link on one machine;
// on any other address it also needs InsecureAllowRemote. RevokedFile is
// the deny-list of agent certificate serials, reread when it changes.
type ServerTLS struct {
	Insecure            bool   `yaml:"insecure,omitempty"`
	InsecureAllowRemote bool   `yaml:"insecure_allow_remote,omitempty"`
	CertFile            string `yaml:"cert_file,omitempty"`
	KeyFile             string `yaml:"key_file,omitempty"`
	ClientCAFile        string `yaml:"client_ca_file,omitempty"`
	RevokedFile         string `yaml:"revoked_file,omitempty"`
}

// DefaultServerConfig returns the listener's defaults.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{Listen: "127.0.0.1:7400", MaxStreams: 2000, MaxMessageBytes: 64 << 20, Limits: DefaultStreamLimits()}
}

// Validate checks the listener configuration.
func (c ServerConfig) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("server.listen %q: want host:port", c.Listen))
	}
	if err := c.TLS.validate(c.Listen); err != nil {
		errs = append(errs, err)
	}
	if c.MaxStreams == 0 {
		errs = append(errs, errors.New("server.max_streams: must be > 0"))
	}
	if c.MaxMessageBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("server.max_message_bytes %d: want >= 1048576", c.MaxMessageBytes))
	}
	errs = append(errs, c.Limits.Validate())
	return errors.Join(errs...)
}

// Receiver owns the gRPC server that serves a Service.
type Receiver struct {
	cfg    ServerConfig
	svc    *Service
	logger *slog.Logger
	guard  *linkGuard

	mu       sync.Mutex
	server   *grpc.Server
	listener net.Listener
	served   chan struct{}
	// stopWatch ends the background loop (plaintext warning or revoked
	// list poll); watched closes after it.
	stopWatch chan struct{}
	watched   chan struct{}
}

// NewReceiver returns a receiver; Start binds it. link, if given, counts
// refused handshakes and plaintext serving.
func NewReceiver(cfg ServerConfig, svc *Service, logger *slog.Logger, link ...*LinkMetrics) *Receiver {
	var m *LinkMetrics
	if len(link) > 0 {
		m = link[0]
	}
	return &Receiver{cfg: cfg, svc: svc, logger: logger, guard: newLinkGuard(cfg.TLS.RevokedFile, logger, m)}
}

// streamWindowBytes is the flow-control window of each stream and of its
// connection (an agent opens one stream on its connection): what an agent
// may have sent that the aggregator has not read yet. It is the memory a
// held-back agent costs (a 1 MiB window was ~100 MB at 100 agents, most of
// the heap beside the writer's pending rows) and bounds one agent's rate
// to the window per round trip: two default batches (~110 KB each
// uncompressed, a third of that with zstd), ~5 MB/s over a 50 ms link,
// ~90,000 samples/s uncompressed and more compressed. A message larger
// than the window still passes: gRPC widens a stream's window for the
// message it reads.
const streamWindowBytes = 256 << 10

// connBufferBytes is each connection's read buffer; writes share one
// buffer per write instead (grpc.SharedWriteBuffer), as the aggregator
// only writes acks. gRPC's default is 32 KiB for each of the two: 64 MB
// at 1,000 mostly idle agents.
const connBufferBytes = 16 << 10

// Start binds the listener and serves in the background.
func (r *Receiver) Start(ctx context.Context) error {
	creds, err := r.credentials()
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", r.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", r.cfg.Listen, err)
	}
	limiter := newStreamLimiter(r.cfg.Limits, r.svc)
	srv := grpc.NewServer(
		grpc.Creds(creds),
		grpc.MaxRecvMsgSize(r.cfg.MaxMessageBytes),
		grpc.MaxConcurrentStreams(r.cfg.MaxStreams),
		// Fixed flow-control windows: gRPC's own grow with each link's
		// measured bandwidth-delay product up to 16 MiB, so while the
		// writer holds the streams back (back-pressure) every agent's
		// window fills with batches the aggregator holds unread: at 100
		// agents, hundreds of MB. A message larger than the window still
		// passes: gRPC widens a stream's window for the message it reads.
		grpc.InitialWindowSize(streamWindowBytes),
		grpc.InitialConnWindowSize(streamWindowBytes),
		grpc.ReadBufferSize(connBufferBytes),
		grpc.SharedWriteBuffer(true),
		// Batches are decoded into a few slabs instead of three objects
		// per sample, which proto.Unmarshal made at 100,000 samples/s.
		grpc.ForceServerCodecV2(wire.NewCodec()),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		// Recovery wraps everything; streams refused by a limit are
		// counted and logged by the limiter, once per cause and peer, and
		// never reach the per-call log a flood of them would fill.
		grpc.ChainStreamInterceptor(
			recovery.StreamServerInterceptor(recovery.WithRecoveryHandler(r.svc.recovered)),
			auth.StreamServerInterceptor(r.svc.authenticate),
			ratelimit.StreamServerInterceptor(limiter),
			limiter.stream,
			logging.StreamServerInterceptor(slogAdapter(r.logger), logging.WithLogOnEvents(logging.FinishCall)),
		),
	)
	lifelinev1.RegisterIngestServer(srv, r.svc)

	r.mu.Lock()
	r.server, r.listener, r.served = srv, lis, make(chan struct{})
	served := r.served
	r.mu.Unlock()
	go func() {
		defer close(served)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			r.logger.Error("grpc serve", "err", err)
		}
	}()
	r.logger.Info("ingest listening", "addr", lis.Addr().String(), "tls", !r.cfg.TLS.Insecure)
	r.startWatch(lis.Addr().String())
	return nil
}

// Addr returns the bound address, or "" before Start.
func (r *Receiver) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.listener == nil {
		return ""
	}
	return r.listener.Addr().String()
}

// Serving returns nil while the gRPC server accepts streams, and says why
// not otherwise.
func (r *Receiver) Serving() error {
	r.mu.Lock()
	srv, served := r.server, r.served
	r.mu.Unlock()
	switch {
	case served == nil:
		return errors.New("not listening yet")
	case srv == nil:
		return errors.New("shut down")
	}
	select {
	case <-served:
		return errors.New("gRPC server stopped serving (see the log)")
	default:
		return nil
	}
}

// Shutdown stops accepting streams, lets open ones end until ctx is done,
// then cuts them. It is idempotent and safe without Start.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	srv, served := r.server, r.served
	r.server = nil
	r.mu.Unlock()
	if srv == nil {
		return nil
	}
	r.stopWatching()
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		srv.Stop()
		<-stopped
	}
	<-served
	r.svc.Wait()
	return nil
}

func slogAdapter(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}
