package config

import (
	"fmt"
	"strconv"
	"strings"
)

// MemoryLimit is the Go runtime's soft memory limit for the aggregator:
// "auto", "off", or a size such as "400MiB" (B, KiB, MiB, GiB, TiB, as
// GOMEMLIMIT writes them; a bare number is bytes). A GOMEMLIMIT in the
// environment beats it.
type MemoryLimit string

// DefaultMemoryLimit is what "auto" means outside a memory-limited
// container. At 100 agents the aggregator's live heap is ~300 MB; without
// a limit Go lets the heap double before collecting (GOGC=100), which put
// the resident set over 1 GB. Collecting earlier as the heap nears 400 MiB
// keeps it under ~500 MiB for ~15 % more CPU in garbage collection.
const DefaultMemoryLimit = 400 << 20

// cgroupShare is the part of a container's memory limit "auto" takes,
// leaving room for what the Go heap does not count (stacks, runtime,
// page cache charged to the container).
const cgroupShare = 0.75

// MemoryAuto, MemoryOff are the memory limit's words.
const (
	MemoryAuto = "auto"
	MemoryOff  = "off"
)

// Validate checks that the limit is a word or a size of at least 64 MiB
// (below that the collector would run without pause).
func (m MemoryLimit) Validate() error {
	switch strings.TrimSpace(string(m)) {
	case MemoryAuto, MemoryOff:
		return nil
	}
	n, err := parseSize(string(m))
	if err != nil {
		return fmt.Errorf("memory_limit %q: want auto, off or a size such as 400MiB", string(m))
	}
	if n < 64<<20 {
		return fmt.Errorf("memory_limit %q: want at least 64MiB", string(m))
	}
	return nil
}

// Bytes resolves the limit given the container's memory limit (0 when
// none): 0 means no limit. "auto" is three quarters of the container's
// limit, or DefaultMemoryLimit outside one. Call it on a valid limit.
func (m MemoryLimit) Bytes(cgroup int64) int64 {
	switch strings.TrimSpace(string(m)) {
	case MemoryOff:
		return 0
	case MemoryAuto, "":
		if cgroup > 0 {
			return int64(float64(cgroup) * cgroupShare)
		}
		return DefaultMemoryLimit
	}
	n, _ := parseSize(string(m))
	return n
}

// parseSize reads a size the way GOMEMLIMIT does: a number with an
// optional B, KiB, MiB, GiB or TiB suffix.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	shift := 0
	for _, u := range []struct {
		suffix string
		shift  int
	}{{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"B", 0}} {
		if strings.HasSuffix(s, u.suffix) {
			s, shift = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q", s)
	}
	return n << shift, nil
}
