package service

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
)

// lockedBuffer is a log destination the agent's goroutines share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Each log line of a source's reader names the source once.
func TestSourceLogLinesNameTheSourceOnce(t *testing.T) {
	agg := newAggregator(t)
	agg.start(t)
	sim := startSim(t, plantsim.Options{Addr: "127.0.0.1:0"})
	var logs lockedBuffer
	a := New(agentConfig(sim, agg.addr, t.TempDir()), "test", slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitFor(t, "the subscription", 20*time.Second, func() bool { return strings.Contains(logs.String(), "OPC UA subscription running") })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if n := strings.Count(line, " source=plantsim"); n > 1 {
			t.Errorf("source named %d times: %s", n, line)
		} else if n == 1 {
			seen++
		}
	}
	if seen == 0 {
		t.Fatalf("no line names the source:\n%s", logs.String())
	}
}
