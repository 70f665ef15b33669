package service

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDowntimeBecomesAGap(t *testing.T) {
	dir := t.TempDir()
	d := newDowntime(dir, slog.New(slog.DiscardHandler))
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	if g := d.since(start); g != nil {
		t.Fatalf("first start: gap %v, want none", g)
	}
	if err := d.mark(start); err != nil {
		t.Fatal(err)
	}
	if g := d.since(start.Add(300 * time.Millisecond)); g == nil || g.GetToNs()-g.GetFromNs() != int64(300*time.Millisecond) {
		t.Fatalf("restart after 300 ms: gap %v, want those 300 ms", g)
	}
	g := d.since(start.Add(90 * time.Second))
	if g == nil || g.GetReason() != "agent_stopped" || g.GetFromNs() != start.UnixNano() ||
		g.GetToNs() != start.Add(90*time.Second).UnixNano() || len(g.GetPointIds()) != 0 {
		t.Fatalf("after 90 s stopped: gap %v, want agent_stopped over the whole site from the last mark", g)
	}
}

// A torn or foreign file, or a clock set back, records nothing rather
// than a wrong span.
func TestDowntimeIgnoresImplausibleFiles(t *testing.T) {
	now := time.Now()
	for name, data := range map[string][]byte{
		"short":  {1, 2, 3},
		"future": nil, // marked an hour ahead of now
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			d := newDowntime(dir, slog.New(slog.DiscardHandler))
			if data == nil {
				if err := d.mark(now.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(filepath.Join(dir, aliveFile), data, 0o600); err != nil {
				t.Fatal(err)
			}
			if g := d.since(now); g != nil {
				t.Fatalf("gap %v, want none", g)
			}
		})
	}
}

// run keeps the mark fresh and marks once more when stopped.
func TestDowntimeRunMarksUntilStopped(t *testing.T) {
	dir := t.TempDir()
	d := newDowntime(dir, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.run(ctx); close(done) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	stopped := time.Now()
	g := d.since(stopped.Add(time.Minute))
	if g == nil || time.Unix(0, g.GetFromNs()).Before(stopped.Add(-time.Second)) {
		t.Fatalf("gap %v: want one starting at the stop (%v)", g, stopped)
	}
}
