package statuspage

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestJournalKeepsWarningsAndErrors(t *testing.T) {
	var out bytes.Buffer
	j := NewJournal()
	// The log itself shows errors only; the journal still keeps warnings.
	logger := slog.New(j.Handler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelError})))
	src := logger.With("component", "opcua", "source", "dcs")
	src.Info("connected")
	src.Warn("OPC UA source unreadable", "err", errors.New("dial tcp: connection refused"), "attempt", 3)
	src.WithGroup("sub").Error("subscription failed", "id", 7)
	logger.Error("write batch to buffer", "error", "disk full", "samples", 2000)

	ev := j.Events()
	if len(ev) != 3 {
		t.Fatalf("%d events, want 3: %+v", len(ev), ev)
	}
	if e := ev[2]; e.Level != "WARN" || e.Source != "dcs" || e.Component != "opcua" || e.Error != "dial tcp: connection refused" || e.Detail != "attempt=3" {
		t.Errorf("oldest event %+v", e)
	}
	if e := ev[1]; e.Source != "dcs" || e.Detail != "sub.id=7" {
		t.Errorf("event in a group %+v", e)
	}
	if e := ev[0]; e.Level != "ERROR" || e.Source != "" || e.Error != "disk full" || e.Time.IsZero() {
		t.Errorf("newest event %+v", e)
	}
	if got := out.String(); strings.Contains(got, "unreadable") || !strings.Contains(got, "subscription failed") || !strings.Contains(got, "source=dcs") {
		t.Errorf("the wrapped handler's output changed:\n%s", got)
	}
}

func TestJournalCountsRepeats(t *testing.T) {
	j := NewJournal()
	logger := slog.New(j.Handler(slog.DiscardHandler)).With("source", "dcs")
	logger.Error("buffer full")
	for i := range 200 {
		logger.Warn("OPC UA connection failed; reconnecting", "err", "connection refused", "retry_in", i)
	}
	logger.Warn("OPC UA connection failed; reconnecting", "err", "timeout")
	ev := j.Events()
	if len(ev) != 3 || ev[0].Error != "timeout" || ev[0].Count != 1 || ev[1].Count != 200 || ev[1].Detail != "retry_in=199" ||
		ev[2].Message != "buffer full" {
		t.Fatalf("events %+v", ev)
	}
}

func TestJournalBounded(t *testing.T) {
	j := NewJournal()
	logger := slog.New(j.Handler(slog.DiscardHandler))
	for i := range JournalSize + 7 {
		logger.Warn(fmt.Sprintf("w%d", i))
		j.RecordGap(Gap{Reason: "buffer_full", Samples: uint64(i), Recorded: time.Now()})
	}
	ev, gaps := j.Events(), j.Gaps()
	if len(ev) != JournalSize || ev[0].Message != fmt.Sprintf("w%d", JournalSize+6) || ev[JournalSize-1].Message != "w7" {
		t.Errorf("%d events, newest %q, oldest %q", len(ev), ev[0].Message, ev[len(ev)-1].Message)
	}
	if len(gaps) != JournalSize || gaps[0].Samples != JournalSize+6 || gaps[JournalSize-1].Samples != 7 {
		t.Errorf("%d gaps, newest %d, oldest %d", len(gaps), gaps[0].Samples, gaps[len(gaps)-1].Samples)
	}
	if len(NewJournal().Events()) != 0 {
		t.Error("a new journal has events")
	}
}

func TestSourceState(t *testing.T) {
	now := time.Now()
	tests := []struct {
		connected bool
		down      time.Time
		want      string
	}{
		{true, time.Time{}, StateConnected},
		{false, time.Time{}, StateConnecting},
		{false, now.Add(-10 * time.Second), StateReconnecting},
		{false, now.Add(-DownAfter - time.Second), StateDown},
	}
	for _, tt := range tests {
		if got := SourceState(tt.connected, tt.down, now); got != tt.want {
			t.Errorf("connected %v down since %v: %s, want %s", tt.connected, tt.down, got, tt.want)
		}
	}
}
