package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	agentconfig "github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/service"
)

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory. It needs
// root: without root it skips, unless CI is set, where it fails.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("mounting a tmpfs needs root, and CI is set")
		}
		t.Skip("mounting a tmpfs needs root; run as root to test a full disk")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mount tmpfs on %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

func freeBytes(t *testing.T, dir string) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Bavail * uint64(st.Bsize)
}

// fillTo writes a file in dir until about leave bytes are free.
func fillTo(t *testing.T, dir string, leave uint64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for free := freeBytes(t, dir); free > leave; free = freeBytes(t, dir) {
		if _, err := f.Write(buf[:min(uint64(len(buf)), free-leave)]); err != nil {
			break
		}
	}
	return path
}

// The buffer's disk fills up while the aggregator is unreachable: the
// agent process stays up and keeps reading, keeps what memory_bytes
// allows, records the rest as disk_full gaps, buffers to disk again once
// space is freed, and in the end rows + gap samples = samples read.
func TestFaultDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, 64<<20)
	c := newCluster(t, clusterOptions{points: 1000, rate: 5, agent: func(cfg *agentconfig.Config) {
		cfg.Buffer.Dir = filepath.Join(mnt, "buffer")
		cfg.Buffer.MinFreeBytes = 16 << 20
		cfg.Buffer.MemoryBytes = 1 << 20
	}})
	c.flowing(5000)
	c.proxy.setMode(refuse)
	c.proxy.cut()

	filler := fillTo(t, mnt, 8<<20)
	m := c.waitMetric("batches dropped from memory", 60*time.Second, func(m map[string]float64) bool {
		return m[service.MetricBufferDiskLow] == 1 && m[service.MetricSamplesDroppedTotal] > 0
	})
	read := m[service.MetricSamplesReadTotal]
	c.waitMetric("reading on a full disk", 10*time.Second, func(m map[string]float64) bool {
		return m[service.MetricSamplesReadTotal] > read+5000
	})
	if free := freeBytes(t, mnt); free < 4<<20 {
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
