package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/buffer/disktest"

	agentconfig "github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/service"
)

// The buffer's disk fills up while the aggregator is unreachable: the
// agent process stays up and keeps reading, keeps what memory_bytes
// allows, records the rest as disk_full gaps, buffers to disk again once
// space is freed, and in the end rows + gap samples = samples read.
func TestFaultDiskFull(t *testing.T) {
	mnt := disktest.Tmpfs(t, 64<<20)
	c := newCluster(t, clusterOptions{points: 1000, rate: 5, agent: func(cfg *agentconfig.Config) {
		cfg.Buffer.Dir = filepath.Join(mnt, "buffer")
		cfg.Buffer.MinFreeBytes = 16 << 20
		cfg.Buffer.MemoryBytes = 1 << 20
	}})
	c.flowing(5000)
	c.proxy.setMode(refuse)
	c.proxy.cut()

	filler := disktest.Fill(t, mnt, 8<<20)
	m := c.waitMetric("batches dropped from memory", 60*time.Second, func(m map[string]float64) bool {
		return m[service.MetricBufferDiskLow] == 1 && m[service.MetricSamplesDroppedTotal] > 0
	})
	read := m[service.MetricSamplesReadTotal]
	c.waitMetric("reading on a full disk", 10*time.Second, func(m map[string]float64) bool {
		return m[service.MetricSamplesReadTotal] > read+5000
	})
	if free := disktest.Free(t, mnt); free < 4<<20 {
		t.Fatalf("%d bytes free: the buffer wrote into the full disk", free)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	c.waitMetric("buffering to disk again", 20*time.Second, func(m map[string]float64) bool {
		return m[service.MetricBufferDiskLow] == 0 && m[service.MetricBufferMemoryBatches] == 0
	})
	c.proxy.setMode(forward)
	k := c.assertExactlyOnce(c.finish(), true)

	var rows, samples uint64
	if err := c.conn().QueryRow(context.Background(),
		"SELECT count(), sum(samples) FROM gaps FINAL WHERE site_id = ? AND reason = 'disk_full'", c.site).Scan(&rows, &samples); err != nil {
		t.Fatal(err)
	}
	if rows == 0 || samples == 0 || samples != k.gapSamples {
		t.Fatalf("disk_full gaps: %d rows, %d samples; all gaps %d samples", rows, samples, k.gapSamples)
	}
}
