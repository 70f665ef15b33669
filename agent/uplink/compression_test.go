package uplink

import (
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lifeline-telemetry/lifeline/agent/buffer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
	"github.com/lifeline-telemetry/lifeline/proto/zstd"
)

// countingProxy forwards loopback connections to a backend and counts the
// bytes that travel towards it.
type countingProxy struct {
	lis   net.Listener
	up    atomic.Int64
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func startCountingProxy(t *testing.T, backend string) *countingProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{lis: lis}
	p.wg.Go(func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			p.wg.Go(func() {
				n, _ := io.Copy(b, c)
				p.up.Add(n)
				b.Close()
			})
			p.wg.Go(func() {
				_, _ = io.Copy(c, b)
				c.Close()
			})
		}
	})
	t.Cleanup(func() {
		lis.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// fillRealistic buffers n batches of 1,000 samples (the fake aggregator's
// limit) of 10,000 points at 10 Hz, as an agent's batcher writes them.
func fillRealistic(t *testing.T, q *buffer.Queue, n int) {
	t.Helper()
	for b := range n {
		batch := &lifelinev1.Batch{}
		for i := range 1000 {
			k := b*1000 + i
			ts := int64(1_795_900_000_000_000_000) + int64(k/10_000)*100_000_000
			batch.Samples = append(batch.Samples, &lifelinev1.Sample{
				PointId:      fmt.Sprintf("LOAD.P%05d", k%10_000+1),
				SourceTimeNs: ts,
				ServerTimeNs: ts,
				Value:        &lifelinev1.Sample_Number{Number: math.Round((50+40*math.Sin(float64(k)/977))*1000) / 1000},
			})
		}
		data, err := proto.Marshal(batch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Append(data); err != nil {
			t.Fatal(err)
		}
	}
}

// The stream to the aggregator is compressed as configured: what crosses
// the network is several times smaller with zstd than without.
func TestCompressesTheStream(t *testing.T) {
	sent := map[string]int64{}
	for _, c := range []string{"none", zstd.Name} {
		f := &fakeAggregator{seen: map[uint64]int{}, backfill: map[uint64]bool{}}
		proxy := startCountingProxy(t, serve(t, f))
		q := openQueue(t)
		fillRealistic(t, q, 20)
		u, stop := runUplink(t, q, proxy.lis.Addr().String(), func(o *Options) { o.Compression = c })
		waitEmpty(t, q)
		stop()
		if st := u.Stats(); st.AckedSamples != 20_000 {
			t.Fatalf("%s: %d samples acked, want 20,000", c, st.AckedSamples)
		}
		proxy.lis.Close()
		proxy.mu.Lock()
		for _, conn := range proxy.conns {
			conn.Close()
		}
		proxy.mu.Unlock()
		proxy.wg.Wait()
		sent[c] = proxy.up.Load()
	}
	ratio := float64(sent["none"]) / float64(sent[zstd.Name])
	t.Logf("20,000 samples: %d bytes uncompressed, %d with zstd (%.1f×)", sent["none"], sent[zstd.Name], ratio)
	if ratio < 3 {
		t.Fatalf("zstd sent %d bytes against %d uncompressed: only %.1f× less", sent[zstd.Name], sent["none"], ratio)
	}
}
