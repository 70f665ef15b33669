package service

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/buffer/disktest"

	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// diskFullSetup runs the simulator (2,500 samples/s) and the agent on a
// 32 MiB tmpfs with an 8 MiB floor and 256 KiB for batches in memory.
func diskFullSetup(t *testing.T, agg *aggregator) (*Agent, *plantsim.Sim, *tapped, string, func()) {
	mnt := disktest.Tmpfs(t, 32<<20)
	sim := startSim(t, plantsim.Options{Addr: "127.0.0.1:0", Points: 500, Rate: 5})
	cfg := agentConfig(sim, agg.addr, filepath.Join(mnt, "buffer"))
	cfg.Buffer.MinFreeBytes = 8 << 20
	cfg.Buffer.MemoryBytes = 256 << 10
	rec := &tapped{}
	a, stop := runAgent(t, cfg, rec.tap)
	waitFor(t, "samples stored", 20*time.Second, func() bool { return a.Stats().Stored > 1000 })
	return a, sim, rec, mnt, stop
}

// settle stops the simulator and waits until every sample read is either
// at the aggregator or inside a disk_full gap it received. It returns how
// many were missing and how many the gaps account for.
func settle(t *testing.T, a *Agent, sim *plantsim.Sim, rec *tapped, agg *aggregator) (missing int, inGaps uint64) {
	t.Helper()
	if err := sim.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	covered := func(k sampleKey, gaps []*lifelinev1.Gap) bool {
		for _, g := range gaps {
			if k.ts < g.FromNs || k.ts > g.ToNs {
				continue
			}
			if len(g.PointIds) == 0 {
				return true
			}
			for _, p := range g.PointIds {
				if p == k.point {
					return true
				}
			}
		}
		return false
	}
	waitFor(t, "every sample read at the aggregator or in a disk_full gap", 30*time.Second, func() bool {
		if a.Stats().BufferEntries != 0 {
			return false
		}
		gaps := agg.gapsOf("disk_full")
		missing, inGaps = 0, 0
		for _, g := range gaps {
			inGaps += g.Samples
		}
		for k := range rec.keys() {
			if !agg.has(k) {
				if !covered(k, gaps) {
					return false
				}
				missing++
			}
		}
		return true
	})
	return missing, inGaps
}

// The disk fills up while the aggregator is reachable: the agent keeps
// reading and live data keeps reaching the aggregator, sent from memory;
// nothing is lost; buffering to disk resumes when space is freed.
func TestDiskFullLiveDataKeepsFlowing(t *testing.T) {
	agg := newAggregator(t)
	agg.start(t)
	a, sim, rec, mnt, _ := diskFullSetup(t, agg)

	filler := disktest.Fill(t, mnt, 4<<20)
	full := time.Now()
	waitFor(t, "the agent to report the disk low", 5*time.Second, func() bool { return scrape(t, a)["lifeline_agent_buffer_disk_low"] == 1 })
	time.Sleep(3 * time.Second)
	if n := rec.readAfter(full.Add(2 * time.Second)); n == 0 {
		t.Fatal("the agent stopped reading OPC UA when the disk filled")
	}
	// A sample read two seconds into the full disk reaches the aggregator.
	var late sampleKey
	rec.mu.Lock()
	for _, s := range rec.samples {
		if s.ReceiveTimeNs > full.Add(2*time.Second).UnixNano() {
			late = sampleKey{s.PointId, s.SourceTimeNs}
			break
		}
	}
	rec.mu.Unlock()
	waitFor(t, "live data read on a full disk at the aggregator", 5*time.Second, func() bool { return agg.has(late) })
	m := scrape(t, a)
	if m["lifeline_agent_buffer_memory_bytes"] > 256<<10 {
		t.Errorf("%.0f bytes held in memory, bound 256 KiB", m["lifeline_agent_buffer_memory_bytes"])
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "buffering to disk again", 5*time.Second, func() bool { return scrape(t, a)["lifeline_agent_buffer_disk_low"] == 0 })
	missing, inGaps := settle(t, a, sim, rec, agg)
	if missing != 0 || inGaps != 0 {
		t.Errorf("%d samples missing, %d in disk_full gaps: with the link up nothing should be lost", missing, inGaps)
	}
}

// The disk fills up while the aggregator is unreachable: the agent keeps
// reading, holds what memory allows, and records exactly what it drops
// as a disk_full gap; when space is freed it buffers to disk again, and
// when the link returns everything kept and the gap arrive.
func TestDiskFullLinkDownRecordsExactGap(t *testing.T) {
	agg := newAggregator(t)
	a, sim, rec, mnt, _ := diskFullSetup(t, agg)

	filler := disktest.Fill(t, mnt, 4<<20)
	full := time.Now()
	waitFor(t, "a batch dropped from memory", 20*time.Second, func() bool {
		return scrape(t, a)["lifeline_agent_samples_dropped_total"] > 0
	})
	if rec.readAfter(full.Add(time.Second)) == 0 {
		t.Fatal("the agent stopped reading OPC UA when the disk filled")
	}
	if free := disktest.Free(t, mnt); free < 3<<20 {
		t.Fatalf("only %d bytes free: the buffer wrote into the full disk", free)
	}
	stored := a.Stats().BufferEntries

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "buffering to disk again", 5*time.Second, func() bool {
		m := scrape(t, a)
		return m["lifeline_agent_buffer_disk_low"] == 0 && m["lifeline_agent_buffer_memory_batches"] == 0 &&
			int64(m["lifeline_agent_buffer_batches"]) > stored
	})

	agg.start(t)
	missing, inGaps := settle(t, a, sim, rec, agg)
	if missing == 0 || uint64(missing) != inGaps {
		t.Fatalf("%d samples missing at the aggregator, disk_full gaps account for %d: want the same, above 0", missing, inGaps)
	}
	t.Logf("dropped while the disk was full and the link down: %d samples, all inside %d disk_full gap records",
		missing, len(agg.gapsOf("disk_full")))
}

// The agent is restarted on a disk another program filled to the last
// byte: it starts (Badger's LOCK file needs a free block, which the
// buffer's reserve provides), reads, and live data reaches the aggregator.
func TestAgentStartsOnAFullDisk(t *testing.T) {
	agg := newAggregator(t)
	agg.start(t)
	mnt := disktest.Tmpfs(t, 32<<20)
	sim := startSim(t, plantsim.Options{Addr: "127.0.0.1:0"})
	cfg := agentConfig(sim, agg.addr, filepath.Join(mnt, "buffer"))
	cfg.Buffer.MinFreeBytes = 8 << 20
	a, stop := runAgent(t, cfg, (&tapped{}).tap)
	waitFor(t, "samples acked", 20*time.Second, func() bool { return a.Stats().Acked > 0 })
	stop()

	disktest.Fill(t, mnt, 0)
	if free := disktest.Free(t, mnt); free != 0 {
		t.Fatalf("%d bytes still free", free)
	}
	rec := &tapped{}
	a, _ = runAgent(t, cfg, rec.tap)
	started := time.Now()
	waitFor(t, "live data from the restarted agent at the aggregator", 20*time.Second, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, s := range rec.samples {
			if s.ReceiveTimeNs > started.UnixNano() && agg.has(sampleKey{s.PointId, s.SourceTimeNs}) {
				return true
			}
		}
		return false
	})
	if m := scrape(t, a); m["lifeline_agent_buffer_disk_low"] != 1 {
		t.Errorf("disk_low = %v on a full disk", m["lifeline_agent_buffer_disk_low"])
	}
}
