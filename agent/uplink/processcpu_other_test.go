//go:build !unix

package uplink

import "time"

// processCPU is not measured here: the pipeline benchmark reports 0 cores.
func processCPU() time.Duration { return 0 }
