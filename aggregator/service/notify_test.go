package service

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

	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/notify"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

// The aggregator with notify enabled pages a webhook about an alarm the
// store holds, counts it, and stops its notifier with itself.
func TestAggregatorNotifies(t *testing.T) {
	addr := chtest.Addr(t)
	ignore := goleak.IgnoreCurrent()
	var mu sync.Mutex
	var ids []string
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var p struct{ ID string }
		data, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(data, &p)
		mu.Lock()
		ids = append(ids, p.ID)
		mu.Unlock()
	}))
	defer hook.Close()

	cfg := config.Default()
	cfg.Server.Listen, cfg.Server.TLS.Insecure = "127.0.0.1:0", true
	cfg.ClickHouse.Addr, cfg.ClickHouse.Database = addr, chtest.Database(t, addr)
	cfg.Metrics.Listen = "127.0.0.1:0"
	cfg.Notify.Enabled, cfg.Notify.Poll = true, 100*time.Millisecond
	cfg.Notify.Recipients = map[string]notify.Recipient{"soc": {Type: notify.TypeWebhook, URL: hook.URL}}
	cfg.Notify.Rules = []notify.Rule{{Steps: []notify.Step{{Recipients: []string{"soc"}}}}}
	cfg.NodeID = "agg-notify"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// The site's stream was taken over here before: this aggregator
	// restores the claim at start and notifies about the site.
	st := store.New(cfg.Store(), slog.New(slog.DiscardHandler))
	if err := st.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.ClaimSite(context.Background(), "hd-chem", cfg.NodeID); err != nil {
		t.Fatal(err)
	}
	agg := New(cfg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agg.Run(ctx) }()
	select {
	case <-agg.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("aggregator not ready")
	}

	err := st.SaveAlarmEvents(context.Background(), []store.AlarmEvent{{SiteID: "hd-chem", PointID: "T101.LT",
		Condition: "HH", Priority: 1, Active: true, RaisedNs: time.Now().UnixNano(), Value: 98, Limit: 95}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(ids)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no notification within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get("http://" + agg.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `lifeline_notify_sent_total{type="webhook"} 1`) {
		t.Errorf("metrics lack the delivery:\n%s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 1 {
		t.Errorf("deliveries %v, want one", ids)
	}
	st.Close()
	hook.Close()
	http.DefaultClient.CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
}
