package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/notify"
	"github.com/lifeline-telemetry/lifeline/aggregator/notify/channel"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// inbox is a webhook receiver on loopback; each recipient posts to its
// own path.
type inbox struct {
	*httptest.Server
	mu  sync.Mutex
	got map[string][]channel.WebhookPayload
}

func newInbox(t *testing.T) *inbox {
	t.Helper()
	in := &inbox{got: map[string][]channel.WebhookPayload{}}
	in.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var p channel.WebhookPayload
		if err := json.Unmarshal(data, &p); err != nil {
			t.Errorf("payload %q: %v", data, err)
		}
		in.mu.Lock()
		in.got[strings.TrimPrefix(r.URL.Path, "/")] = append(in.got[strings.TrimPrefix(r.URL.Path, "/")], p)
		in.mu.Unlock()
	}))
	t.Cleanup(in.Close)
	return in
}

func (in *inbox) of(recipient string) []channel.WebhookPayload {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]channel.WebhookPayload(nil), in.got[recipient]...)
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// acks is an in-memory Acknowledger and Shelves.
type acks struct {
	mu      sync.Mutex
	set     map[store.AlarmKey]bool
	shelved map[store.AlarmKey]time.Time // until
}

func (a *acks) Shelved(_ context.Context, keys []store.AlarmKey, at time.Time) (map[store.AlarmKey]bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[store.AlarmKey]bool{}
	for _, k := range keys {
		out[k] = a.shelved[k].After(at)
	}
	return out, nil
}

func (a *acks) shelve(k store.AlarmKey, until time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.shelved == nil {
		a.shelved = map[store.AlarmKey]time.Time{}
	}
	a.shelved[k] = until
}

func (a *acks) Acknowledged(_ context.Context, keys []store.AlarmKey) (map[store.AlarmKey]bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[store.AlarmKey]bool{}
	for _, k := range keys {
		out[k] = a.set[k]
	}
	return out, nil
}

func (a *acks) ack(k store.AlarmKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.set == nil {
		a.set = map[store.AlarmKey]bool{}
	}
	a.set[k] = true
}

// webhookConfig routes every alarm of park 化工园区 to officer at once and
// to duty after 10 minutes.
func webhookConfig(url string) notify.Config {
	cfg := notify.DefaultConfig()
	cfg.Enabled = true
	cfg.Recipients = map[string]notify.Recipient{
		"officer": {Type: notify.TypeWebhook, URL: url + "/officer"},
		"duty":    {Type: notify.TypeWebhook, URL: url + "/duty"},
	}
	cfg.Rules = []notify.Rule{{Name: "park", Match: notify.Match{Parks: []string{"化工园区"}}, Steps: []notify.Step{
		{After: 0, Recipients: []string{"officer"}},
		{After: 10 * time.Minute, Recipients: []string{"duty"}},
	}}}
	return cfg
}

// openStore opens a fresh database with one registered enterprise.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	st := storetest.Open(t)
	err := st.SaveRegistry(context.Background(),
		[]store.Enterprise{{SiteID: "hd-chem", Code: "E1", Name: "华东化工", Park: "化工园区"}},
		[]store.HazardSource{{SiteID: "hd-chem", Code: "H01", Name: "液氯储罐区", Level: 1, UnitType: "tank_farm"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func alarmAt(point string, raised time.Time) store.AlarmEvent {
	return store.AlarmEvent{SiteID: "hd-chem", PointID: point, Condition: "HH", Priority: 1, Active: true,
		RaisedNs: raised.UnixNano(), Value: 98.5, Limit: 95, Kind: "level", Unit: "m", HazardCode: "H01"}
}

func newNotifier(cfg notify.Config, st *store.Store, ack notify.Acknowledger, now func() time.Time) *notify.Notifier {
	return notify.New(cfg, st, st, ack, notify.NewSenders(cfg, nil), notify.Options{Now: now},
		notify.NewMetrics(nil), slog.New(slog.DiscardHandler))
}

func poll(t *testing.T, n *notify.Notifier) {
	t.Helper()
	if err := n.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
}
