package mqtt_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt/mqtttest"
)

// BenchmarkSend measures acknowledged publishes on loopback: one sender
// (each Send waits for its PUBACK) and 64 at once.
func BenchmarkSend(b *testing.B) {
	broker := mqtttest.Start(b, mqtttest.Options{})
	msg := payload(0)
	for _, v := range versions {
		for _, senders := range []int{1, 64} {
			b.Run(fmt.Sprintf("v%d/senders=%d", v, senders), func(b *testing.B) {
				p := startB(b, config(v, broker.URL(), fmt.Sprintf("bench-v%d-%d", v, senders)))
				ctx := context.Background()
				if err := p.Send(ctx, "bench/warm", msg); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(msg)))
				b.SetParallelism(senders)
				b.ResetTimer()
				if senders == 1 {
					for b.Loop() {
						if err := p.Send(ctx, "bench/t", msg); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := p.Send(ctx, "bench/t", msg); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
