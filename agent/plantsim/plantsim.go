// Package plantsim simulates a small chemical plant as an OPC UA server:
// tank farm, reactor unit and gas detectors whose values move plausibly and
// sometimes cross alarm limits.
//
// The plant has two major hazard sources (GB 18218): the methanol tank farm
// HS-01 (four storage tanks T101–T104 in one dike, with level, temperature,
// pressure, inlet pump and gas detectors) and the chlorination unit HS-02
// (reactor R201 with temperature, pressure, chlorine feed, agitator, batch
// ID and process phase, and gas detectors). Every node has a string
// identifier in the simulator's namespace, e.g.
// nsu=urn:lifeline:plantsim;s=TankFarm.T101.Level; Catalog lists them and
// AgentConfig turns them into an agent configuration.
//
// Every update of a node is a real value change with a source timestamp
// strictly after the node's previous one.
package plantsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/server/attrs"
	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// Options configure a simulator. Zero values mean the default.
type Options struct {
	// Addr is the TCP address to listen on; port 0 picks a free port.
	Addr string
	// NamespaceURI is the URI of the simulator's namespace.
	NamespaceURI string
	// ExtraNamespaces are registered before the simulator's namespace, so
	// that its index differs from the usual 1.
	ExtraNamespaces []string
	// DecoyValues fills each extra namespace with a copy of every numeric
	// and text node of the plant, under the same identifier, holding a
	// value no plant point has (DecoyNumber, DecoyText). A client that
	// kept a stale namespace index after a restart then reads visibly
	// wrong values rather than an error.
	DecoyValues bool
	// Points is the number of extra load points (Load.P00001 …).
	Points int
	// Rate is how often each load point changes, in Hz (at most 100).
	Rate float64
	// Tick is the period of the plant model; the model's rates are per
	// tick, so a shorter tick runs the plant faster.
	Tick time.Duration
	// ExcursionsPerHour is the mean number of random excursions (a gas
	// leak, a tank overfill, a reactor running hot) per hour of wall
	// time; a negative value disables them.
	ExcursionsPerHour float64
	// MaxItemsPerSubscription, when positive, is stated as the server's
	// MaxMonitoredItemsPerSubscription, so that clients spread their items
	// over several subscriptions, as many DCS servers make them do. gopcua
	// runs each subscription's publishing in its own goroutine, so large
	// point counts then publish in parallel. It is stated, not enforced.
	MaxItemsPerSubscription int
	// MaxNodesPerRead, when positive, replaces the MaxNodesPerRead the
	// server states (gopcua's default is 32). Clients split their Reads by
	// it, so a polling client's cost follows it; servers of DCS vendors
	// commonly allow hundreds or thousands. It is stated, not enforced.
	MaxNodesPerRead int
	// QueueValues serves subscriptions through the sim's own publishing
	// loop (publish.go), which keeps each monitored item's queue at the
	// size asked for, and counts what a full queue discards (Overflowed),
	// instead of gopcua's, which keeps one value per item between
	// publishes and loses the overwritten ones without a trace. The
	// benchmark runs with it; off by default for the tests and the demo,
	// which were written against gopcua's publishing.
	QueueValues bool
	// Scripted adds points the model never drives: a test sets their
	// values, with the source times it wants, through Set. Identifier and
	// ID are required; Type defaults to Double.
	Scripted []PointSpec
	// Seed seeds the model's random numbers.
	Seed int64
	// Logger receives the simulator's and the OPC UA server's logs.
	Logger *slog.Logger
}

// DefaultOptions returns the default options.
func DefaultOptions() Options {
	return Options{
		Addr:              "127.0.0.1:4840",
		NamespaceURI:      "urn:lifeline:plantsim",
		Rate:              1,
		Tick:              time.Second,
		ExcursionsPerHour: 3,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Addr == "" {
		o.Addr = d.Addr
	}
	if o.NamespaceURI == "" {
		o.NamespaceURI = d.NamespaceURI
	}
	if o.Rate <= 0 {
		o.Rate = d.Rate
	}
	if o.Tick <= 0 {
		o.Tick = d.Tick
	}
	if o.ExcursionsPerHour == 0 {
		o.ExcursionsPerHour = d.ExcursionsPerHour
	}
	if o.Points < 0 {
		o.Points = 0
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Sim is a simulated plant served over OPC UA.
type Sim struct {
	opts    Options
	log     *slog.Logger
	catalog []PointSpec
	vars    []*variable // parallel to catalog
	byID    map[string]*variable
	nPlant  int // vars[:nPlant] belong to the plant model, then come the load points, then the scripted
	plant   *plant

	changes    atomic.Uint64
	dropped    atomic.Uint64
	overflowed atomic.Uint64

	mu        sync.Mutex
	started   bool
	closed    bool
	srv       *server.Server
	ns        *server.NodeNameSpace
	px        *proxy
	endpoint  string
	stopModel context.CancelFunc
	stopSrv   context.CancelFunc
	wg        sync.WaitGroup
	// initWG tracks the goroutines that send new monitored items their
	// initial values.
	initWG sync.WaitGroup
	// stalled holds the subscriptions notify no longer waits for; it is
	// guarded by the server's monitored-item lock.
	stalled map[*server.Subscription]time.Time

	// The sim's own subscriptions (publish.go): their items' queue sizes,
	// their publishing goroutines, the last subscription number given
	// (guarded by the server's subscription lock).
	pubMu     sync.Mutex
	queues    map[*server.Subscription]*subQueue
	pubWG     sync.WaitGroup
	lastSubID uint32
}

// New returns a simulator; it does no I/O. Start serves it.
func New(opts Options) *Sim {
	opts = opts.withDefaults()
	s := &Sim{
		stalled: map[*server.Subscription]time.Time{},
		queues:  map[*server.Subscription]*subQueue{},
		opts:    opts,
		log:     opts.Logger,
		catalog: append(buildCatalog(opts.NamespaceURI, opts.Points), scriptedCatalog(opts.NamespaceURI, opts.Scripted)...),
	}
	s.nPlant = len(s.catalog) - opts.Points - len(opts.Scripted)
	s.vars = make([]*variable, len(s.catalog))
	s.byID = make(map[string]*variable, len(s.catalog))
	for i := range s.catalog {
		v := &variable{spec: &s.catalog[i]}
		s.vars[i] = v
		s.byID[v.spec.ID] = v
	}
	perStep := opts.ExcursionsPerHour * opts.Tick.Hours()
	s.plant = newPlant(s.catalog[:s.nPlant], opts.Seed, perStep)
	return s
}

// Catalog lists every simulated point: the plant's first, then the load
// points, then the scripted ones.
func (s *Sim) Catalog() []PointSpec {
	ps := slices.Clone(s.catalog)
	for i := range ps {
		ps[i].Range = cloneRange(ps[i].Range)
		ps[i].Limits = cloneLimits(ps[i].Limits)
	}
	return ps
}

// HazardSources lists the plant's major hazard sources.
func (s *Sim) HazardSources() []config.HazardSource { return slices.Clone(hazardSources) }

// NamespaceURI is the URI of the simulator's namespace.
func (s *Sim) NamespaceURI() string { return s.opts.NamespaceURI }

// Changes returns the number of value changes written so far.
func (s *Sim) Changes() uint64 { return s.changes.Load() }

// Dropped returns the number of change notifications that could not be
// queued because a subscription's queue stayed full.
func (s *Sim) Dropped() uint64 { return s.dropped.Load() }

// Endpoint returns the server's endpoint URL. After Start it carries the
// port actually bound; before, the configured address. A wildcard host
// is reported as 127.0.0.1.
func (s *Sim) Endpoint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.endpoint != "" {
		return s.endpoint
	}
	host, port, err := net.SplitHostPort(s.opts.Addr)
	if err != nil {
		return "opc.tcp://" + s.opts.Addr
	}
	return "opc.tcp://" + net.JoinHostPort(connectHost(host), port)
}

// connectHost is the host a local client uses to reach a server bound
// to host.
func connectHost(host string) string {
	if host == "" || host == "0.0.0.0" || host == "::" {
		return "127.0.0.1"
	}
	return host
}

// ExcursionTargets lists the point IDs that ForceExcursion accepts.
func (s *Sim) ExcursionTargets() []string { return slices.Clone(s.plant.excursionTargets()) }

// ForceExcursion starts an excursion on a point at the next model step: a
// gas detector reads well above its first stage (often above the second),
// a tank is filled past H (a level point, it takes as long as the filling
// does), or the reactor runs hot (R201.TT).
func (s *Sim) ForceExcursion(pointID string) error {
	if !s.plant.excite(pointID) {
		return fmt.Errorf("plantsim: point %q cannot take an excursion (want one of %v)", pointID, s.plant.excursionTargets())
	}
	s.log.Info("excursion forced", "point", pointID)
	return nil
}

// SetBad makes a point's node report a Bad status code (BadSensorFailure)
// until it is set good again; the model keeps running underneath and the
// node reports its current value when it recovers.
func (s *Sim) SetBad(pointID string, bad bool) error {
	v := s.byID[pointID]
	if v == nil {
		return fmt.Errorf("plantsim: unknown point %q", pointID)
	}
	if !v.setBad(bad, time.Now()) {
		return nil
	}
	s.changes.Add(1)
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv != nil {
		// bounded: notify never waits longer than notifyStall
		s.notify(context.Background(), srv.MonitoredItemService, []*variable{v})
	}
	return nil
}

// Start builds the address space, binds the listener and starts the model.
// It returns once clients can connect.
func (s *Sim) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("plantsim: start after shutdown")
	}
	if s.started {
		return errors.New("plantsim: already started")
	}
	host, _, err := net.SplitHostPort(s.opts.Addr)
	if err != nil {
		return fmt.Errorf("plantsim: listen address %q: %w", s.opts.Addr, err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("plantsim: listen on %s: %w", s.opts.Addr, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	endpoint := "opc.tcp://" + net.JoinHostPort(connectHost(host), strconv.Itoa(port))

	// Initial values, so that the first read already sees data.
	now := time.Now()
	out := make([]any, s.nPlant)
	s.plant.step(now, out)
	for i, val := range out {
		if val != nil && s.vars[i].set(val, now) {
			s.changes.Add(1)
		}
	}
	load := newLoad(s.vars[s.nPlant:s.nPlant+s.opts.Points], s.opts.Rate, s.opts.Seed)
	s.changes.Add(uint64(load.stepAll(now)))

	srvCtx, stopSrv := context.WithCancel(context.WithoutCancel(ctx))
	srv, ns, private, err := s.startServer(ctx, srvCtx, host, port)
	if err != nil {
		stopSrv()
		ln.Close()
		return err
	}
	px := newProxy(ln, private, s.log)
	px.start()
	s.srv, s.ns, s.px, s.stopSrv, s.endpoint = srv, ns, px, stopSrv, endpoint
	s.started = true

	modelCtx, stopModel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopModel = stopModel
	mis := srv.MonitoredItemService
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runPlant(modelCtx, mis)
	}()
	if len(load.vars) > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.runLoad(modelCtx, mis, load)
		}()
	}
	s.log.Info("plant simulator serving", "endpoint", s.endpoint, "namespace", s.opts.NamespaceURI,
		"namespace_index", ns.ID(), "points", len(s.catalog), "load_points", len(load.vars),
		"load_rate_hz", s.opts.Rate, "tick", s.opts.Tick)
	return nil
}

// startServer starts the gopcua server on a private loopback port and
// returns its address. The server also advertises the public endpoints
// (host:port): gopcua answers GetEndpoints with the endpoints whose URL is
// the one the client asked for.
func (s *Sim) startServer(ctx, srvCtx context.Context, host string, port int) (*server.Server, *server.NodeNameSpace, string, error) {
	for attempt := 0; ; attempt++ {
		// gopcua's server does not report the port it bound, so pick one.
		private, err := freePort(ctx)
		if err != nil {
			return nil, nil, "", fmt.Errorf("plantsim: find a free loopback port: %w", err)
		}
		srv, ns, err := s.newServer(private, host, port)
		if err == nil {
			s.registerServices(srvCtx, srv)
			err = srv.Start(srvCtx)
		}
		if err == nil {
			return srv, ns, private, nil
		}
		// The port picked may have been taken in the meantime.
		if attempt >= 4 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, "", fmt.Errorf("plantsim: start OPC UA server on %s: %w", private, err)
		}
	}
}

// freePort returns a loopback address with a port that was free just now.
func freePort(ctx context.Context) (string, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// newServer creates a gopcua server listening on private with the sim's
// address space.
func (s *Sim) newServer(private, host string, port int) (*server.Server, *server.NodeNameSpace, error) {
	_, privatePort, _ := net.SplitHostPort(private)
	pp, _ := strconv.Atoi(privatePort)
	opts := []server.Option{
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.ServerName("Lifeline plant simulator"),
		server.ManufacturerName("Lifeline"),
		server.ProductName("lifeline-plantsim"),
		server.SetLogger(serverLogger{s.log}),
		// The first endpoint is the one the server listens on.
		server.EndPoint("127.0.0.1", pp),
	}
	if ch := connectHost(host); ch != host {
		opts = append(opts, server.EndPoint(ch, port), server.EndPoint("localhost", port))
		if name, err := os.Hostname(); err == nil && name != "localhost" {
			opts = append(opts, server.EndPoint(name, port))
		}
	} else {
		opts = append(opts, server.EndPoint(host, port))
	}
	srv := server.New(opts...)
	for _, uri := range s.opts.ExtraNamespaces {
		extra := server.NewNodeNameSpace(srv, uri)
		if s.opts.DecoyValues {
			addDecoys(extra, s.catalog)
		}
	}
	if n := s.opts.MaxItemsPerSubscription; n > 0 {
		if ns0, err := srv.Namespace(0); err == nil {
			ns0.(*server.NodeNameSpace).AddNode(server.NewNode(
				ua.NewNumericNodeID(0, id.Server_ServerCapabilities_MaxMonitoredItemsPerSubscription),
				map[ua.AttributeID]*ua.DataValue{
					ua.AttributeIDBrowseName: server.DataValueFromValue(attrs.BrowseName("MaxMonitoredItemsPerSubscription")),
					ua.AttributeIDNodeClass:  server.DataValueFromValue(uint32(ua.NodeClassVariable)),
				},
				nil,
				func() *ua.DataValue { return server.DataValueFromValue(uint32(n)) },
			))
		}
	}
	if n := s.opts.MaxNodesPerRead; n > 0 {
		if err := stateMaxNodesPerRead(srv, uint32(n)); err != nil {
			return nil, nil, err
		}
	}
	ns := server.NewNodeNameSpace(srv, s.opts.NamespaceURI)
	fastest := s.opts.Tick
	if s.opts.Points > 0 {
		fastest = min(fastest, time.Duration(float64(time.Second)/s.opts.Rate))
	}
	minSampling := float64(fastest) / float64(time.Millisecond)
	if err := buildAddressSpace(srv, ns, s.vars, minSampling); err != nil {
		return nil, nil, err
	}
	return srv, ns, nil
}

// stateMaxNodesPerRead sets the value of the MaxNodesPerRead node gopcua's
// server adds to namespace 0: its own setting has no option.
func stateMaxNodesPerRead(srv *server.Server, n uint32) error {
	ns0, err := srv.Namespace(0)
	if err != nil {
		return fmt.Errorf("max nodes per read: %w", err)
	}
	nodes, ok := ns0.(*server.NodeNameSpace)
	if !ok {
		return fmt.Errorf("max nodes per read: namespace 0 is a %T", ns0)
	}
	node := nodes.Node(ua.NewNumericNodeID(0, id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead))
	if node == nil {
		return errors.New("max nodes per read: the server has no MaxNodesPerRead node")
	}
	return node.SetAttribute(ua.AttributeIDValue, server.DataValueFromValue(n))
}

// DropConnections closes every client connection at once, as a network
// failure would. The server keeps running and clients may reconnect.
//
// The subscriptions of the dropped clients are deleted too. A real server
// would keep them for their lifetime in case the client comes back for
// them; gopcua's cannot afford that: it numbers a new subscription
// len(subscriptions)+1, so a new client's subscription can take the number
// of a live one, orphaning it, and an old subscription that ends deletes
// whichever subscription now has its number. After a few drops a client
// finds its fresh subscription gone or silent.
func (s *Sim) DropConnections() {
	s.mu.Lock()
	px, srv := s.px, s.srv
	s.mu.Unlock()
	if px == nil {
		return
	}
	old := subscriptionsOf(srv)
	px.dropAll()
	deleteSubscriptions(srv, old)
	s.log.Info("dropped every client connection", "subscriptions_deleted", len(old))
}

// subscriptionsOf returns the server's subscriptions by ID.
func subscriptionsOf(srv *server.Server) map[uint32]*server.Subscription {
	ss := srv.SubscriptionService
	if ss == nil {
		return nil
	}
	ss.Mu.Lock()
	defer ss.Mu.Unlock()
	return maps.Clone(ss.Subs)
}

// deleteSubscriptions deletes the subscriptions subs that still exist
// under their ID (gopcua reuses IDs), with their monitored items.
func deleteSubscriptions(srv *server.Server, subs map[uint32]*server.Subscription) {
	ss := srv.SubscriptionService
	for id, sub := range subs {
		ss.Mu.Lock()
		same := ss.Subs[id] == sub
		ss.Mu.Unlock()
		if same {
			ss.DeleteSubscription(id)
		}
	}
}

// runPlant steps the plant model every tick until ctx is done.
func (s *Sim) runPlant(ctx context.Context, mis *server.MonitoredItemService) {
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	out := make([]any, s.nPlant)
	changed := make([]*variable, 0, s.nPlant)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		clear(out)
		changed = changed[:0]
		now := time.Now()
		if id := s.plant.step(now, out); id != "" {
			s.log.Info("excursion started", "point", id)
		}
		for i, val := range out {
			if val != nil && s.vars[i].set(val, now) {
				changed = append(changed, s.vars[i])
			}
		}
		s.changes.Add(uint64(len(changed)))
		s.notify(ctx, mis, changed)
	}
}

// Shutdown stops the model and the server. It is idempotent and safe to
// call without Start. It waits for the model's goroutines and for the
// server's connections to close, or until ctx is done.
func (s *Sim) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started, srv, px := s.started, s.srv, s.px
	s.mu.Unlock()
	if !started {
		return nil
	}

	// 1. Stop writing values.
	s.stopModel()
	s.wg.Wait()

	// 2. Stop accepting and cut every client connection: gopcua's server
	// only lets go of a connection once the client hangs up.
	px.close()

	// 3. Close the server. Its dispatcher must still run meanwhile: a
	// connection's reader blocks handing it a message until it does.
	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	var err error
	select {
	case err = <-closed:
	case <-ctx.Done():
		err = fmt.Errorf("plantsim: close OPC UA server: %w", ctx.Err())
	}
	s.stopSrv()
	s.initWG.Wait()
	s.pubWG.Wait()

	// 4. gopcua keeps a subscription's publishing goroutine until its
	// client deletes it or its lifetime runs out; Close does neither.
	deleteSubscriptions(srv, subscriptionsOf(srv))
	s.log.Info("plant simulator stopped", "changes", s.Changes(), "dropped_notifications", s.Dropped(), "overflowed_values", s.Overflowed())
	return err
}
