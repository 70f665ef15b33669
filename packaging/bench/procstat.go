package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux architecture Lifeline runs on.
const clockTicks = 100

// cpuSeconds returns the user plus system CPU time pid has used.
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces: split after it.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// Fields after the name start at field 3 (state); utime is 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return float64(ut+st) / clockTicks, nil
}

// rssBytes returns the resident set size of pid.
func rssBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status VmRSS %q: %w", pid, v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// Usage is a process's CPU and memory over a measured window.
type Usage struct {
	CPUCores float64 // CPU seconds per wall second: 1.0 is one core busy
	RSSMax   int64   // largest resident set seen
	RSSMean  int64
}

// usageMeter samples one process's RSS while it runs and its CPU time at
// the window's two ends.
type usageMeter struct {
	pid     int
	start   time.Time
	cpu0    float64
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	rssMax  int64
	rssSum  int64
	samples int64
}

// meterUsage starts measuring pid; stop ends the window.
func meterUsage(pid int) *usageMeter {
	m := &usageMeter{pid: pid, start: time.Now()}
	m.cpu0, _ = cpuSeconds(pid)
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			m.sampleRSS()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return m
}

func (m *usageMeter) sampleRSS() {
	rss, err := rssBytes(m.pid)
	if err != nil {
		return
	}
	m.mu.Lock()
	m.rssMax = max(m.rssMax, rss)
	m.rssSum += rss
	m.samples++
	m.mu.Unlock()
}

func (m *usageMeter) stop() Usage {
	cpu1, _ := cpuSeconds(m.pid)
	wall := time.Since(m.start).Seconds()
	m.cancel()
	m.wg.Wait()
	m.sampleRSS()
	m.mu.Lock()
	defer m.mu.Unlock()
	u := Usage{RSSMax: m.rssMax}
	if m.samples > 0 {
		u.RSSMean = m.rssSum / m.samples
	}
	if wall > 0 {
		u.CPUCores = (cpu1 - m.cpu0) / wall
	}
	return u
}
