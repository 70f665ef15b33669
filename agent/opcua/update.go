package opcua

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// A reader's point list can change while it runs (a reloaded
// configuration): Update hands it the new source, and Run's goroutine
// applies the difference to the live subscription (see apply.go), so the
// session, the subscriptions and the monitored items of unchanged points
// stay as they are.
//
// Points are addressed by handle (the client handle of their monitored
// item, an index into r.src.Points). A handle never changes while the
// reader lives: a new point gets the next one, a removed point keeps its
// slot marked gone (and gets it back if it returns), so that the handles
// of the other points, and every array indexed by them, stay valid.

// SessionChanges lists the settings of a source (by their configuration
// names) that differ between old and new and that a running reader cannot
// take without a new session: the connection, security and identity, the
// read mode and the reader's timing. Points, the sampling interval, the
// queue size and frozen_after can change live.
func SessionChanges(old, new config.Source) []string {
	fields := []struct {
		name string
		a, b any
	}{
		{"name", old.Name, new.Name},
		{"endpoint", old.Endpoint, new.Endpoint},
		{"security_policy", old.SecurityPolicy, new.SecurityPolicy},
		{"security_mode", old.SecurityMode, new.SecurityMode},
		{"pki_dir", old.PKIDir, new.PKIDir},
		{"auth", old.Auth, new.Auth},
		{"username", old.Username, new.Username},
		{"password", old.Password, new.Password},
		{"password_file", old.PasswordFile, new.PasswordFile},
		{"password_env", old.PasswordEnv, new.PasswordEnv},
		{"user_cert_file", old.UserCertFile, new.UserCertFile},
		{"user_key_file", old.UserKeyFile, new.UserKeyFile},
		{"read_mode", old.ReadMode, new.ReadMode},
		{"poll_interval", old.PollInterval, new.PollInterval},
		{"publishing_interval", old.PublishingInterval, new.PublishingInterval},
		{"reconnect_min", old.ReconnectMin, new.ReconnectMin},
		{"reconnect_max", old.ReconnectMax, new.ReconnectMax},
		// A running backfill reads them; a new reader picks up its state
		// file where this one left it.
		{"history_backfill", old.HistoryBackfill, new.HistoryBackfill},
		{"history_max_window", old.HistoryMaxWindow, new.HistoryMaxWindow},
		// The event session is started with the reader.
		{"events", fmt.Sprint(old.Events), fmt.Sprint(new.Events)},
	}
	var out []string
	for _, f := range fields {
		if f.a != f.b {
			out = append(out, f.name)
		}
	}
	return out
}

// Update hands the reader a new configuration of its source. Run applies
// it without a new session: monitored items are created for new points,
// deleted for removed ones, modified (or, where the server cannot modify
// them or the node changed, replaced) for points whose node, sampling
// interval, queue size or deadband changed; items of unchanged points are
// left alone. It returns at once with a generation number that
// Stats().Applied reaches once the change is in effect; a reader that is
// not connected applies it when it next subscribes.
//
// Update refuses a source whose session settings differ from the ones the
// reader was created with (see SessionChanges): such a change needs a new
// reader.
func (r *Reader) Update(src config.Source) (uint64, error) {
	if changed := SessionChanges(r.base, src); len(changed) > 0 {
		return 0, fmt.Errorf("source %s: %s cannot change without a new session", r.base.Name, strings.Join(changed, ", "))
	}
	src.Points = slices.Clone(src.Points)
	r.updateMu.Lock()
	r.updateGen++
	gen := r.updateGen
	r.pending = &src
	r.updateMu.Unlock()
	select {
	case r.updated <- struct{}{}:
	default:
	}
	return gen, nil
}

// takeUpdate returns the pending source configuration, if any, and its
// generation.
func (r *Reader) takeUpdate() (*config.Source, uint64) {
	r.updateMu.Lock()
	defer r.updateMu.Unlock()
	src := r.pending
	r.pending = nil
	return src, r.updateGen
}

// pointPlan is what an update changes, by handle.
type pointPlan struct {
	create []int // new, returning, or with a new node: an item to create
	remove []int // removed, or with a new node: an item to delete
	modify []int // sampling interval, queue size or deadband changed

	added, removed, changed int // points, for the log
}

func (p pointPlan) empty() bool { return p.added == 0 && p.removed == 0 && p.changed == 0 }

// adopt makes src the reader's source, keeping every point's handle, and
// returns what changed. Only Run's goroutine calls it.
func (r *Reader) adopt(src config.Source) pointPlan {
	var p pointPlan
	old := r.src
	byID := make(map[string]int, len(old.Points))
	for h, pt := range old.Points {
		byID[pt.ID] = h
	}
	table := slices.Clone(old.Points)
	seen := make([]bool, len(old.Points))
	for _, pt := range src.Points {
		h, ok := byID[pt.ID]
		switch {
		case !ok:
			h = len(table)
			table = append(table, pt)
			r.gone = append(r.gone, false)
			r.states.add(pt.ID)
			p.create = append(p.create, h)
			p.added++
		case r.gone[h]:
			table[h] = pt
			r.gone[h] = false
			r.states.setGone(h, false)
			p.create = append(p.create, h)
			p.added++
		default:
			table[h] = pt
			prev := old.Points[h]
			switch {
			case prev.Node != pt.Node:
				p.remove = append(p.remove, h)
				p.create = append(p.create, h)
				delete(r.problems, h)
				delete(r.fellBack, h)
				p.changed++
			case !sameMonitoring(old, prev, src, pt):
				p.modify = append(p.modify, h)
				p.changed++
			case !reflect.DeepEqual(prev, pt):
				p.changed++ // described differently only: nothing to do on the server
			}
		}
		if h < len(seen) {
			seen[h] = true
		}
	}
	for h, ok := range seen {
		if !ok && !r.gone[h] {
			r.gone[h] = true
			r.states.setGone(h, true)
			delete(r.problems, h)
			p.remove = append(p.remove, h)
			p.removed++
		}
	}
	src.Points = table
	r.src = src
	ids := r.livePointIDs()
	r.liveIDs.Store(&ids)
	return p
}

// sameMonitoring reports whether a point's monitored item would be asked
// for with the same parameters under both configurations.
func sameMonitoring(oldSrc config.Source, oldPt config.Point, newSrc config.Source, newPt config.Point) bool {
	sampling := func(s config.Source, p config.Point) config.Duration {
		if p.SamplingInterval > 0 {
			return p.SamplingInterval
		}
		return s.SamplingInterval
	}
	deadband := func(p config.Point) config.DataDeadband {
		if p.Deadband == nil {
			return config.DataDeadband{}
		}
		return *p.Deadband
	}
	return sampling(oldSrc, oldPt) == sampling(newSrc, newPt) && oldSrc.QueueSize == newSrc.QueueSize &&
		(oldPt.Deadband == nil) == (newPt.Deadband == nil) && deadband(oldPt) == deadband(newPt)
}

// livePoints counts the points not removed.
func (r *Reader) livePoints() int {
	n := 0
	for _, g := range r.gone {
		if !g {
			n++
		}
	}
	return n
}

// livePointIDs lists the IDs of the points not removed.
func (r *Reader) livePointIDs() []string {
	ids := make([]string, 0, len(r.src.Points))
	for h, p := range r.src.Points {
		if !r.gone[h] {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// adoptPending takes a pending update before a session subscribes: the
// session starts from the new point list, so nothing is applied live.
func (r *Reader) adoptPending() {
	if src, gen := r.takeUpdate(); src != nil {
		r.adopt(*src)
		r.applied.Store(gen)
	}
}
