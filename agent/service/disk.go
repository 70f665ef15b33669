package service

import (
	"github.com/prometheus/client_golang/prometheus"
)

// registerDiskMetrics exposes the buffer's disk: whether it is below
// buffer.min_free_bytes, the free space, and the batches held in memory
// meanwhile.
func (a *Agent) registerDiskMetrics(p *pipeline) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	a.registry.MustRegister(
		gauge("lifeline_agent_buffer_disk_low", "1 while the buffer's disk is below buffer.min_free_bytes (or full) and new batches are held in memory.",
			func() float64 {
				if low, _ := p.queue.Disk(); low {
					return 1
				}
				return 0
			}),
		gauge("lifeline_agent_buffer_disk_free_bytes", "Free space on the buffer's filesystem, as last checked.",
			func() float64 { _, free := p.queue.Disk(); return float64(free) }),
		gauge("lifeline_agent_buffer_memory_batches", "Batches held in memory because the disk is low (part of lifeline_agent_buffer_batches).",
			func() float64 { return float64(p.queue.Stats().Memory) }),
		gauge("lifeline_agent_buffer_memory_bytes", "Bytes of batches held in memory because the disk is low.",
			func() float64 { return float64(p.queue.Stats().MemoryBytes) }),
	)
}
