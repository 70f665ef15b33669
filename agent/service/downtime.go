package service

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

// aliveFile, in the buffer's directory, holds the last time the agent was
// known to be running (Unix ns, big-endian). The next start turns the span
// since then into an agent_stopped gap: a stop, a kill -9, a crash or a
// power cut leaves a hole in the record that must be explained, and only
// the agent knows it was not reading. It lives with the buffer, so a new
// or wiped buffer starts without it, as a new PC knows nothing of the old.
const aliveFile = "lifeline-alive"

// aliveEvery is how often the file is rewritten: a kill loses at most this
// much of the span from the gap, a power cut (the page not yet on disk) a
// little more.
const aliveEvery = time.Second

// downtime keeps the alive file. Its writes are not synced: a stale time
// after a power cut makes the recorded gap longer, never hides one.
type downtime struct {
	path   string
	logger *slog.Logger
	beat   *obs.Heartbeat // stamped each round, for /healthz; may be nil
}

func newDowntime(bufferDir string, logger *slog.Logger) *downtime {
	return &downtime{path: filepath.Join(bufferDir, aliveFile), logger: logger}
}

// since returns the gap from the last time the agent was alive until now,
// however short (a restart loses what changed meanwhile too), or nil when
// there is none to record (a first start, or a file that does not hold a
// plausible time).
func (d *downtime) since(now time.Time) *lifelinev1.Gap {
	data, err := os.ReadFile(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil || len(data) != 8 {
		d.logger.Warn("cannot tell how long the agent was stopped", "file", d.path, "err", err, "bytes", len(data))
		return nil
	}
	last := int64(binary.BigEndian.Uint64(data))
	if last <= 0 || last > now.UnixNano() {
		d.logger.Warn("cannot tell how long the agent was stopped: the last time alive is not before now",
			"file", d.path, "last", time.Unix(0, last).UTC())
		return nil
	}
	return &lifelinev1.Gap{FromNs: last, ToNs: now.UnixNano(), Reason: "agent_stopped"}
}

// mark records now as a time the agent was alive.
func (d *downtime) mark(now time.Time) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(now.UnixNano()))
	if err := os.WriteFile(d.path, b[:], 0o600); err != nil {
		return fmt.Errorf("mark agent alive: %w", err)
	}
	return nil
}

// run marks the agent alive every aliveEvery until ctx is done, and once
// more then. A failed write (a full disk) is logged once until one works.
func (d *downtime) run(ctx context.Context) {
	t := time.NewTicker(aliveEvery)
	defer t.Stop()
	failing := false
	for {
		err := d.mark(time.Now())
		d.beat.Beat()
		switch {
		case err != nil && !failing:
			d.logger.Warn("agent_stopped gaps will be longer than the stop until this works", "err", err)
			failing = true
		case err == nil:
			failing = false
		}
		select {
		case <-ctx.Done():
			_ = d.mark(time.Now()) // the readers have stopped: the stop starts here
			return
		case <-t.C:
		}
	}
}

// recordStopped records the agent_stopped gap g for the points of sources
// that do no history backfill; the readers of the others record it for
// their own points once they have read it back from their server.
func (a *Agent) recordStopped(p *pipeline, g *lifelinev1.Gap) {
	var points []string
	backfilled := 0
	sources := p.sources.snapshot()
	for _, ls := range sources {
		if ls.reader.HistoryEnabled() {
			backfilled++
			continue
		}
		for _, pt := range ls.cfg.Points {
			points = append(points, pt.ID)
		}
	}
	lasted := time.Duration(g.GetToNs() - g.GetFromNs()).Round(time.Second)
	from := time.Unix(0, g.GetFromNs()).UTC()
	if backfilled > 0 {
		a.logger.Warn("the agent was not reading; the agent_stopped gap is recorded once the missed span is read back from the servers' history",
			"from", from, "for", lasted, "sources_with_backfill", backfilled)
	}
	if backfilled == len(sources) && backfilled > 0 {
		return
	}
	if backfilled > 0 {
		g.PointIds = points // the other sources' points come with their readers' records
	}
	p.batcher.RecordGap(g)
	a.logger.Warn("the agent was not reading; recorded as an agent_stopped gap", "from", from, "for", lasted)
}
