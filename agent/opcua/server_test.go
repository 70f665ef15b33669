package opcua

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"
	"github.com/gopcua/opcua/uasc"

	"github.com/lifeline-telemetry/lifeline/agent/pki"
	"github.com/lifeline-telemetry/lifeline/proto/freeport"
)

const plantNS = "urn:test:plant"

// maxNodesPerRead is the limit gopcua's server states (and the test server
// enforces).
const maxNodesPerRead = 32

// testVar is one variable of the test server. Its values encode its
// identity so that a value delivered under the wrong point ID is detected.
type testVar struct {
	name  string
	value func(n int) any // the n-th value
}

// identityFloat returns values k*1e6 + n: the point is recoverable from
// the value.
func identityFloat(k int) func(int) any {
	return func(n int) any { return float64(k)*1e6 + float64(n) }
}

func identityText(prefix string) func(int) any {
	return func(n int) any { return fmt.Sprintf("%s#%d", prefix, n) }
}

var plantVars = []testVar{
	{"T101.LT", identityFloat(1)},
	{"T102.PT", identityFloat(2)},
	{"T101.LSHH", func(n int) any { return n%2 == 0 }},
	{"T101.TAG", identityText("T101.TAG")},
	{"T101.描述", identityText("储罐液位")},
	{"T101.CNT", func(n int) any { return int32(n) }},
}

// serverOptions configure a test server.
type serverOptions struct {
	port int // 0: pick a free port
	// before are namespace URIs registered ahead of urn:test:plant, which
	// shifts its index. Each holds decoys: variables with the same names
	// as the plant's but values no plant variable has.
	before []string
	vars   []testVar
	// update is the update period; 0 leaves the values constant.
	update time.Duration
	// identity, when set, makes the server offer Basic256Sha256 and
	// Aes128_Sha256_RsaOaep with Sign and SignAndEncrypt (besides None)
	// and username and certificate user tokens, with this certificate.
	identity *pki.Own
	// maxItemsPerSub, when set, is the server's
	// MaxMonitoredItemsPerSubscription: stated, and enforced with
	// BadTooManyMonitoredItems.
	maxItemsPerSub int
	// refusePublish is how many publish requests the server answers with
	// BadTooManyPublishRequests, as a server that queues fewer requests
	// than the client offers does, before it serves them.
	refusePublish int32
}

// testServer is a gopcua server on 127.0.0.1 with the namespace
// urn:test:plant, reached through a proxy on port so that stopping it drops
// the clients' connections. Unlike plain gopcua it refuses monitored items for nodes
// that do not exist (BadNodeIdUnknown), as real servers do, and it can be
// told to stop answering publish requests.
type testServer struct {
	t        *testing.T
	port     int
	endpoint string
	srv      *server.Server
	proxy    *proxy
	cancel   context.CancelFunc // stops the server's loops
	halt     context.CancelFunc // stops the value updates
	wg       sync.WaitGroup
	stopOnce sync.Once

	mu    sync.Mutex
	nodes map[string]*ua.DataValue
	ids   map[string]*ua.NodeID
	nsIdx uint16
	muted atomic.Bool // swallow publish requests
	// deaf, once set, makes the next connection that sends a publish
	// request get only keep-alives from then on (deafChan): a
	// subscription that stays "alive" but delivers no data. Other
	// connections are served normally.
	deaf     atomic.Bool
	deafChan *uasc.SecureChannel // guarded by mu
	replies  sync.WaitGroup      // delayed keep-alives
	uctx     context.Context     // done when the server stops
	// clockOffset shifts the server's CurrentTime (i=2258) from the real
	// time; clockDead makes reads of it fail.
	clockOffset atomic.Int64
	clockDead   atomic.Bool
	calls       atomic.Int64 // CreateMonitoredItems calls
	reads       atomic.Int64 // Read calls
	maxReq      atomic.Int64 // largest CreateMonitoredItems call
	maxPerSub   int
	// refusePublish counts down the publish requests still to refuse.
	refusePublish atomic.Int32
	perSub        map[uint32]int // monitored items per subscription; guarded by mu
	callTimes     []time.Time    // of CreateMonitoredItems calls; guarded by mu
}

// freePort returns a free loopback port: tests listen on it again after
// a cut or a restart (see freeport).
func freePort(t *testing.T) int {
	t.Helper()
	ports, err := freeport.Loopback(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

func startServer(t *testing.T, o serverOptions) *testServer {
	t.Helper()
	if o.port == 0 {
		o.port = freePort(t)
	}
	if o.vars == nil {
		o.vars = plantVars
	}
	ts := &testServer{
		t:         t,
		port:      o.port,
		endpoint:  fmt.Sprintf("opc.tcp://127.0.0.1:%d", o.port),
		nodes:     map[string]*ua.DataValue{},
		ids:       map[string]*ua.NodeID{},
		perSub:    map[uint32]int{},
		maxPerSub: o.maxItemsPerSub,
	}
	ts.refusePublish.Store(o.refusePublish)
	backend := freePort(t)
	opts := []server.Option{
		server.EndPoint("127.0.0.1", backend),
		// gopcua's GetEndpoints answers only for an exact endpoint URL,
		// so the proxy's address is advertised too.
		server.EndPoint("127.0.0.1", o.port),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
	}
	if o.identity != nil {
		opts = append(opts,
			server.Certificate(o.identity.Cert),
			server.PrivateKey(o.identity.Key),
			server.EnableAuthMode(ua.UserTokenTypeUserName),
			server.EnableAuthMode(ua.UserTokenTypeCertificate),
		)
		for _, p := range []string{"Basic256Sha256", "Aes128_Sha256_RsaOaep"} {
			opts = append(opts,
				server.EnableSecurity(p, ua.MessageSecurityModeSign),
				server.EnableSecurity(p, ua.MessageSecurityModeSignAndEncrypt))
		}
	}
	srv := server.New(opts...)
	ts.srv = srv
	for _, uri := range o.before {
		decoys := server.NewNodeNameSpace(srv, uri)
		for _, v := range o.vars {
			dv := &ua.DataValue{Value: ua.MustVariant(decoyValue(v.value(0))), SourceTimestamp: time.Now()}
			dv.UpdateMask()
			decoys.AddNode(server.NewVariableNode(ua.NewStringNodeID(decoys.ID(), v.name), v.name, func() *ua.DataValue { return dv }))
		}
	}
	ns := server.NewNodeNameSpace(srv, plantNS)
	ts.nsIdx = ns.ID()
	for _, v := range o.vars {
		nid := ua.NewStringNodeID(ns.ID(), v.name)
		ts.ids[v.name] = nid
		ts.set(v, 0, time.Now())
		ns.AddNode(server.NewVariableNode(nid, v.name, func() *ua.DataValue {
			ts.mu.Lock()
			defer ts.mu.Unlock()
			dv := *ts.nodes[v.name]
			return &dv
		}))
	}
	srv.RegisterHandler(id.CreateMonitoredItemsRequest_Encoding_DefaultBinary, ts.createMonitoredItems)
	srv.RegisterHandler(id.ReadRequest_Encoding_DefaultBinary, func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
		return ts.read(r)
	})
	srv.RegisterHandler(id.PublishRequest_Encoding_DefaultBinary, func(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
		if ts.muted.Load() {
			return nil, nil
		}
		if ts.deafTo(sc) {
			return ts.keepAlive(sc, r, reqID)
		}
		if ts.refusePublish.Add(-1) >= 0 {
			return nil, ua.StatusBadTooManyPublishRequests
		}
		return srv.SubscriptionService.Publish(sc, r, reqID)
	})

	ts.uctx, ts.halt = context.WithCancel(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	err := srv.Start(ctx)
	if err != nil {
		cancel()
		ts.halt()
		t.Fatalf("start server: %v", err)
	}
	ts.proxy = listenProxy(t, o.port, net.JoinHostPort("127.0.0.1", itoa(backend)))
	uctx := ts.uctx
	if o.update > 0 {
		ts.wg.Add(1)
		go ts.updates(uctx, o.vars, o.update)
	}
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) set(v testVar, n int, now time.Time) {
	dv := &ua.DataValue{
		Value:           ua.MustVariant(v.value(n)),
		SourceTimestamp: now,
		ServerTimestamp: now,
	}
	dv.UpdateMask()
	ts.mu.Lock()
	ts.nodes[v.name] = dv
	ts.mu.Unlock()
}

func (ts *testServer) updates(ctx context.Context, vars []testVar, every time.Duration) {
	defer ts.wg.Done()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		for _, v := range vars {
			ts.set(v, n, now)
			ts.srv.ChangeNotification(ts.ids[v.name])
		}
	}
}

// deafTo reports whether publish requests on sc get only keep-alives.
func (ts *testServer) deafTo(sc *uasc.SecureChannel) bool {
	if !ts.deaf.Load() {
		return false
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.deafChan == nil {
		ts.deafChan = sc
	}
	return ts.deafChan == sc
}

// keepAlive answers a publish request on sc, a keep-alive period later,
// with a keep-alive of the channel's subscription (as a server whose
// subscription lost its monitored items would).
func (ts *testServer) keepAlive(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
	req, ok := r.(*ua.PublishRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	ss := ts.srv.SubscriptionService
	// The keep-alive goes out as number 0: the reader does not look at a
	// keep-alive's number, and reading gopcua's SequenceID here would race
	// with the subscription's own goroutine, which writes it unlocked.
	var subID, seq uint32
	var every time.Duration
	ss.Mu.Lock()
	for _, sub := range ss.Subs {
		if sub.Channel == sc {
			subID = sub.ID
			every = time.Duration(sub.RevisedPublishingInterval*float64(sub.RevisedMaxKeepAliveCount)) * time.Millisecond
		}
	}
	ss.Mu.Unlock()
	if subID == 0 {
		return nil, nil
	}
	res := &ua.PublishResponse{
		ResponseHeader: &ua.ResponseHeader{
			Timestamp:          time.Now(),
			RequestHandle:      req.RequestHeader.RequestHandle,
			ServiceResult:      ua.StatusOK,
			ServiceDiagnostics: &ua.DiagnosticInfo{},
			StringTable:        []string{},
			AdditionalHeader:   ua.NewExtensionObject(nil),
		},
		SubscriptionID:           subID,
		NotificationMessage:      &ua.NotificationMessage{SequenceNumber: seq, PublishTime: time.Now(), NotificationData: []*ua.ExtensionObject{}},
		AvailableSequenceNumbers: []uint32{},
		Results:                  []ua.StatusCode{},
		DiagnosticInfos:          []*ua.DiagnosticInfo{},
	}
	ts.replies.Add(1)
	go func() {
		defer ts.replies.Done()
		t := time.NewTimer(every)
		defer t.Stop()
		select {
		case <-ts.uctx.Done():
		case <-t.C:
			_ = sc.SendResponseWithContext(ts.uctx, reqID, res)
		}
	}()
	return nil, nil
}

// read is gopcua's Read service (which cannot be wrapped) with the
// MaxNodesPerRead limit enforced.
func (ts *testServer) read(r ua.Request) (ua.Response, error) {
	req, ok := r.(*ua.ReadRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	if len(req.NodesToRead) > maxNodesPerRead {
		return nil, ua.StatusBadTooManyOperations
	}
	ts.reads.Add(1)
	results := make([]*ua.DataValue, len(req.NodesToRead))
	for i, n := range req.NodesToRead {
		if n.NodeID.Namespace() == 0 && n.NodeID.IntID() == id.Server_ServerStatus_CurrentTime {
			if ts.clockDead.Load() {
				return nil, ua.StatusBadInternalError
			}
			now := time.Now().Add(time.Duration(ts.clockOffset.Load()))
			results[i] = &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(now)}
			continue
		}
		if n.NodeID.Namespace() == 0 && n.NodeID.IntID() == id.Server_ServerCapabilities_MaxMonitoredItemsPerSubscription && ts.maxPerSub > 0 {
			results[i] = &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(uint32(ts.maxPerSub))}
			continue
		}
		ns, err := ts.srv.Namespace(int(n.NodeID.Namespace()))
		if err != nil {
			results[i] = &ua.DataValue{EncodingMask: ua.DataValueStatusCode, Status: ua.StatusBadNodeIDUnknown}
			continue
		}
		results[i] = ns.Attribute(n.NodeID, n.AttributeID)
	}
	return &ua.ReadResponse{
		ResponseHeader: &ua.ResponseHeader{
			Timestamp:          time.Now(),
			RequestHandle:      req.RequestHeader.RequestHandle,
			ServiceResult:      ua.StatusOK,
			ServiceDiagnostics: &ua.DiagnosticInfo{},
			StringTable:        []string{},
			AdditionalHeader:   ua.NewExtensionObject(nil),
		},
		Results: results,
	}, nil
}

// createMonitoredItems refuses items for unknown nodes, and items beyond
// maxPerSub in one subscription, and passes the rest to gopcua's handler.
func (ts *testServer) createMonitoredItems(sc *uasc.SecureChannel, r ua.Request, reqID uint32) (ua.Response, error) {
	req, ok := r.(*ua.CreateMonitoredItemsRequest)
	if !ok {
		return nil, ua.StatusBadRequestTypeInvalid
	}
	ts.calls.Add(1)
	if n := int64(len(req.ItemsToCreate)); n > ts.maxReq.Load() {
		ts.maxReq.Store(n)
	}
	known := *req
	known.ItemsToCreate = nil
	var pos []int
	ts.mu.Lock()
	ts.callTimes = append(ts.callTimes, time.Now())
	room := ts.maxPerSub - ts.perSub[req.SubscriptionID]
	ts.mu.Unlock()
	full := make([]bool, len(req.ItemsToCreate))
	for i, item := range req.ItemsToCreate {
		if ts.maxPerSub > 0 && len(pos) >= room {
			full[i] = true
			continue
		}
		if ts.srv.Node(item.ItemToMonitor.NodeID) != nil {
			known.ItemsToCreate = append(known.ItemsToCreate, item)
			pos = append(pos, i)
		}
	}
	resp, err := ts.srv.MonitoredItemService.CreateMonitoredItems(sc, &known, reqID)
	if err != nil {
		return nil, err
	}
	res := resp.(*ua.CreateMonitoredItemsResponse)
	results := make([]*ua.MonitoredItemCreateResult, len(req.ItemsToCreate))
	for i := range results {
		status := ua.StatusBadNodeIDUnknown
		if full[i] {
			status = ua.StatusBadTooManyMonitoredItems
		}
		results[i] = &ua.MonitoredItemCreateResult{StatusCode: status, FilterResult: ua.NewExtensionObject(nil)}
	}
	for j, i := range pos {
		results[i] = res.Results[j]
	}
	ts.mu.Lock()
	ts.perSub[req.SubscriptionID] += len(pos)
	ts.mu.Unlock()
	res.Results = results
	return res, nil
}

// stop shuts the server down and ends every goroutine it runs.
func (ts *testServer) stop() {
	ts.stopOnce.Do(func() {
		ts.proxy.close()
		ts.halt()
		ts.wg.Wait()
		// Close before cancelling: gopcua's connection goroutines hand
		// messages to the server loop without watching the context.
		ts.srv.Close()
		ts.cancel()
		ts.replies.Wait()
		if ss := ts.srv.SubscriptionService; ss != nil {
			ss.Mu.Lock()
			var subs []uint32
			for id := range ss.Subs {
				subs = append(subs, id)
			}
			ss.Mu.Unlock()
			for _, id := range subs {
				ss.DeleteSubscription(id)
			}
		}
	})
}

// decoyValue returns a value of the same type as v that no plant variable
// ever has.
func decoyValue(v any) any {
	switch v.(type) {
	case float64:
		return float64(-1)
	case int32:
		return int32(-1)
	case bool:
		return false
	default:
		return "DECOY"
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// node returns the configured form of a plant variable's node ID.
func node(name string) string { return "nsu=" + plantNS + ";s=" + name }

// varOf returns the variable a point ID names ("T101.LT" → plantVars[0]).
func varOf(name string) (testVar, bool) {
	for _, v := range plantVars {
		if v.name == name || strings.EqualFold(v.name, name) {
			return v, true
		}
	}
	return testVar{}, false
}
