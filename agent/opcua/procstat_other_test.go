//go:build !unix

package opcua

import "time"

// rssBytes and cpuTime are measured on Unix only; elsewhere the benchmark
// reports throughput without them.
func rssBytes() int64 { return 0 }

func cpuTime() time.Duration { return 0 }
