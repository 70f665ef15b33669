package bench

import (
	"slices"
	"time"
)

// quantile returns the q-quantile (0..1) of ds by the nearest-rank method;
// 0 for an empty slice. ds is sorted in place.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}
