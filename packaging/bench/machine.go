package bench

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where the run happened.
type Machine struct {
	CPU         string `json:"cpu"`
	Cores       int    `json:"cores"`
	MemoryBytes int64  `json:"memory_bytes"`
	Disk        string `json:"disk"`
	Kernel      string `json:"kernel"`
	OS          string `json:"os"`
	Go          string `json:"go"`
	ClickHouse  string `json:"clickhouse"`
}

// describeMachine reads /proc and /etc; fields it cannot learn stay empty.
func describeMachine(dir string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	m.CPU = firstValue("/proc/cpuinfo", "model name", ":")
	if kb := firstValue("/proc/meminfo", "MemTotal", ":"); kb != "" {
		n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(kb, "kB")), 10, 64)
		m.MemoryBytes = n << 10
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	m.OS = strings.Trim(firstValue("/etc/os-release", "PRETTY_NAME", "="), `"`)
	// The filesystem of the run's directory, where Badger and ClickHouse write.
	if out, err := exec.Command("df", "-hT", dir).Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if f := strings.Fields(lines[len(lines)-1]); len(f) >= 3 {
			m.Disk = f[1] + " on " + f[0] + ", " + f[2]
		}
	}
	return m
}

// firstValue returns the value of the first "key<sep>value" line of path.
func firstValue(path, key, sep string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
