package service

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/statuspage"
)

// BenchmarkStatusSnapshot100k: one poll of the status page on an agent
// with 100,000 points: the first 500, and a filter that searches them all.
func BenchmarkStatusSnapshot100k(b *testing.B) {
	cfg := config.Default()
	cfg.Site = config.Site{ID: "B01", Park: "P"}
	cfg.Aggregator.TLS.Insecure = true
	cfg.Buffer.Dir = b.TempDir()
	src := config.Source{Name: "load", Endpoint: "opc.tcp://127.0.0.1:4840"}
	config.SourceDefaults(&src)
	for i := range 100_000 {
		src.Points = append(src.Points, config.Point{ID: fmt.Sprintf("L%06d", i), Name: fmt.Sprintf("负载测试点 %06d", i),
			Node: fmt.Sprintf("nsu=urn:x;s=P%06d", i)})
	}
	cfg.Sources = []config.Source{src}
	a := New(cfg, "bench", slog.New(slog.DiscardHandler))
	p := &pipeline{}
	q, err := a.openBuffer(p)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	a.build(p, q, nil)
	v := &statusView{a: a, p: p}
	for _, f := range []statuspage.Filter{{Limit: 500}, {Query: "测试点 0999", Limit: 500}} {
		b.Run(fmt.Sprintf("query=%q", f.Query), func(b *testing.B) {
			for b.Loop() {
				if st := v.StatusSnapshot(f); len(st.Sources[0].Points) == 0 {
					b.Fatal("no points")
				}
			}
		})
	}
}
