package service

import (
	"github.com/prometheus/client_golang/prometheus"
)

// registerDiskMetrics exposes the buffer's disk: whether it is below
// buffer.min_free_bytes, the free space, and the batches held in memory
// meanwhile.
func (a *Agent) registerDiskMetrics(reg prometheus.Registerer, p *pipeline) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(
		gauge(MetricBufferDiskLow, "1 while the buffer's disk is below buffer.min_free_bytes (or full) and new batches are held in memory.",
			func() float64 {
				if low, _ := p.queue.Disk(); low {
					return 1
				}
				return 0
			}),
		gauge(MetricBufferDiskFreeBytes, "Free space on the buffer's filesystem, as last checked.",
			func() float64 { _, free := p.queue.Disk(); return float64(free) }),
		gauge(MetricBufferMemoryBatches, "Batches held in memory because the disk is low (part of lifeline_agent_buffer_batches).",
			func() float64 { return float64(p.queue.Stats().Memory) }),
		gauge(MetricBufferMemoryBytes, "Bytes of batches held in memory because the disk is low.",
			func() float64 { return float64(p.queue.Stats().MemoryBytes) }),
	)
}
