package main

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
)

// Where a container's memory limit is: cgroup v2, then v1.
const (
	cgroupV2Limit = "/sys/fs/cgroup/memory.max"
	cgroupV1Limit = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
)

// applyMemoryLimit sets the runtime's soft memory limit from the
// configuration and logs it once. A GOMEMLIMIT in the environment, which
// the runtime read at start, wins. It returns the limit in force (0: none).
func applyMemoryLimit(limit config.MemoryLimit, getenv func(string) string, cgroup int64, logger *slog.Logger) int64 {
	if env := getenv("GOMEMLIMIT"); env != "" {
		in := debug.SetMemoryLimit(-1)
		logger.Info("memory limit", "bytes", in, "from", "GOMEMLIMIT", "memory_limit", string(limit))
		return normalise(in)
	}
	n := limit.Bytes(cgroup)
	if n == 0 {
		debug.SetMemoryLimit(noLimit)
		logger.Info("memory limit", "bytes", 0, "from", "memory_limit: off")
		return 0
	}
	debug.SetMemoryLimit(n)
	logger.Info("memory limit", "bytes", n, "mib", n>>20, "from", "memory_limit: "+string(limit), "cgroup_bytes", cgroup)
	return n
}

// noLimit is the runtime's "no limit" value (math.MaxInt64).
const noLimit = 1<<63 - 1

func normalise(n int64) int64 {
	if n == noLimit {
		return 0
	}
	return n
}

// cgroupMemoryLimit returns the memory limit the first of files that
// exists sets, or 0 when it sets none or cannot be read.
func cgroupMemoryLimit(files ...string) int64 {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		// cgroup v2 writes "max"; v1 a page-rounded huge number.
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0
		}
		return n
	}
	return 0
}
