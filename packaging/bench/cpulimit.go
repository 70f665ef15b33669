package bench

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cpuLimit holds one process to a share of a core: a cgroup with a CPU
// quota where the machine lets the run make one (cgroup v2 cpu.max, else
// v1 cpu.cfs_quota_us), else the process pinned to one core beside
// processes that spin on it.
type cpuLimit struct {
	// How says how the limit was applied, for the report.
	How   string
	dir   string // the cgroup, when one was made
	stat  string // its cpu.stat
	hogs  []*exec.Cmd
	cores float64
}

// cfsPeriod is the quota's period, the kernel's default.
const cfsPeriod = 100 * time.Millisecond

// limitCPU holds pid to cores CPU seconds a second.
func limitCPU(pid int, cores float64, hogs int) (*cpuLimit, error) {
	l := &cpuLimit{cores: cores}
	name := fmt.Sprintf("lifeline-bench-%d-%d", os.Getpid(), pid)
	quota := int64(cores * float64(cfsPeriod/time.Microsecond))
	errV2 := l.cgroupV2(filepath.Join("/sys/fs/cgroup", name), pid, quota)
	if errV2 == nil {
		return l, nil
	}
	errV1 := l.cgroupV1(filepath.Join("/sys/fs/cgroup/cpu", name), pid, quota)
	if errV1 == nil {
		return l, nil
	}
	if err := l.pin(pid, hogs); err != nil {
		return nil, fmt.Errorf("limit cpu of %d: cgroup v2: %v; cgroup v1: %v; taskset: %w", pid, errV2, errV1, err)
	}
	return l, nil
}

func (l *cpuLimit) cgroupV2(dir string, pid int, quota int64) error {
	root := filepath.Dir(dir)
	ctl, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return err
	}
	if !slices.Contains(strings.Fields(string(ctl)), "cpu") {
		return fmt.Errorf("%s: no cpu controller (%q)", root, strings.TrimSpace(string(ctl)))
	}
	// The root group may enable a controller for its children whatever
	// processes it holds itself.
	if err := os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+cpu"), 0o644); err != nil {
		return err
	}
	return l.join(dir, "cpu.max", fmt.Sprintf("%d %d", quota, cfsPeriod/time.Microsecond), pid, "cgroup v2 cpu.max")
}

func (l *cpuLimit) cgroupV1(dir string, pid int, quota int64) error {
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "cpu.cfs_quota_us")); err != nil {
		return err
	}
	if err := l.join(dir, "cpu.cfs_period_us", strconv.FormatInt(int64(cfsPeriod/time.Microsecond), 10), 0, ""); err != nil {
		return err
	}
	return l.join(dir, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10), pid, "cgroup v1 cpu.cfs_quota_us")
}

// join makes dir (once), writes value to its file knob and, when pid is
// set, moves pid (every thread) into it.
func (l *cpuLimit) join(dir, knob, value string, pid int, how string) error {
	if l.dir == "" {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		l.dir, l.stat = dir, filepath.Join(dir, "cpu.stat")
	}
	if err := os.WriteFile(filepath.Join(dir, knob), []byte(value), 0o644); err != nil {
		l.remove()
		return err
	}
	if pid == 0 {
		return nil
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		l.remove()
		return err
	}
	l.How = fmt.Sprintf("%s (%.2f core)", how, l.cores)
	return nil
}

// pin puts every thread of pid on CPU 0 and starts hogs spinning there.
func (l *cpuLimit) pin(pid, hogs int) error {
	if out, err := exec.Command("taskset", "-a", "-p", "-c", "0", strconv.Itoa(pid)).CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	for range hogs {
		c := exec.Command("taskset", "-c", "0", "sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			l.Close()
			return err
		}
		l.hogs = append(l.hogs, c)
	}
	l.How = fmt.Sprintf("taskset to CPU 0 beside %d spinning processes", hogs)
	return nil
}

// Throttled returns how many quota periods the group was throttled in
// and for how long, when a cgroup holds the limit.
func (l *cpuLimit) Throttled() (periods int64, d time.Duration, ok bool) {
	if l.stat == "" {
		return 0, 0, false
	}
	data, err := os.ReadFile(l.stat)
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "nr_throttled":
			periods = v
		case "throttled_time": // v1, ns
			d = time.Duration(v)
		case "throttled_usec": // v2
			d = time.Duration(v) * time.Microsecond
		}
	}
	return periods, d, true
}

// Close stops the hogs and removes the cgroup (once its process is gone).
func (l *cpuLimit) Close() {
	for _, c := range l.hogs {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	l.hogs = nil
	l.remove()
}

func (l *cpuLimit) remove() {
	if l.dir == "" {
		return
	}
	// A group can be removed only once empty: give an exiting process a
	// moment.
	for range 50 {
		if err := os.Remove(l.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.dir = ""
}
