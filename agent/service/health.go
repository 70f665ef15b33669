package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

// aliveLimit is how long the alive loop, which comes round every
// aliveEvery and writes to the buffer's disk each time, may miss before
// the agent counts as wedged (a hung disk, a deadlock).
const aliveLimit = 10 * time.Second

// addChecks gives the metrics server the agent's /healthz and /readyz: live
// while the alive loop comes round; ready while the buffer is open and at
// least one OPC UA source is read.
func (a *Agent) addChecks(ms *obs.Server) {
	ms.AddLiveness("alive_loop", a.beat.Check(aliveLimit))
	ms.AddReadiness("buffer", a.bufferReady)
	ms.AddReadiness("opcua", a.sourcesReady)
}

func (a *Agent) pipeline() *pipeline {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running
}

// bufferReady passes once the buffer is open; a low disk is noted, not a
// failure, because the buffer then holds batches in memory and goes on.
func (a *Agent) bufferReady(context.Context) (string, error) {
	p := a.pipeline()
	if p == nil {
		return "", fmt.Errorf("not open yet (opening %s)", a.cfg.Buffer.Dir)
	}
	st := p.queue.Stats()
	note := fmt.Sprintf("open, %d batches waiting", st.Entries)
	if low, free := p.queue.Disk(); low {
		note += fmt.Sprintf("; disk low (%d bytes free), %d batches held in memory", free, st.Memory)
	}
	return note, nil
}

// sourcesReady passes while at least one OPC UA source is read, naming
// those that are not either way.
func (a *Agent) sourcesReady(context.Context) (string, error) {
	p := a.pipeline()
	if p == nil {
		return "", errors.New("not started yet")
	}
	var down []string
	sources := p.sources.snapshot()
	for _, ls := range sources {
		rs := ls.reader.Stats()
		if rs.Connected {
			continue
		}
		what := ls.cfg.Name + " (not connected"
		if !rs.DownSince.IsZero() {
			what += " for " + time.Since(rs.DownSince).Round(time.Second).String()
		}
		down = append(down, what+")")
	}
	n := len(sources)
	switch {
	case len(down) == 0:
		return fmt.Sprintf("%d of %d sources read", n, n), nil
	case len(down) == n:
		return "", fmt.Errorf("no source is read: %s", strings.Join(down, ", "))
	}
	return fmt.Sprintf("%d of %d sources read; not read: %s", n-len(down), n, strings.Join(down, ", ")), nil
}
