package zstd_test

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sync"
	"testing"

	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
	"github.com/lifeline-telemetry/lifeline/proto/zstd"
)

// batch encodes n samples the way an agent sends 10,000 points changing at
// 10 Hz: values with three decimals, scan-slot timestamps.
func batch(t testing.TB, n, offset int) []byte {
	t.Helper()
	b := &lifelinev1.Batch{Seq: uint64(offset)}
	for i := range n {
		k := offset + i
		ts := int64(1_795_900_000_000_000_000) + int64(k/10_000)*100_000_000 + int64(k%10_000/1000)*10_000_000
		v := math.Round((50+40*math.Sin(float64(k)/977))*1000) / 1000
		b.Samples = append(b.Samples, &lifelinev1.Sample{
			PointId:      fmt.Sprintf("LOAD.P%05d", k%10_000+1),
			SourceTimeNs: ts,
			ServerTimeNs: ts,
			Value:        &lifelinev1.Sample_Number{Number: v},
		})
	}
	data, err := proto.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func roundTrip(c encoding.Compressor, data []byte) (compressed int, err error) {
	var buf bytes.Buffer
	w, err := c.Compress(&buf)
	if err != nil {
		return 0, err
	}
	if _, err := w.Write(data); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	compressed = buf.Len()
	r, err := c.Decompress(&buf)
	if err != nil {
		return 0, err
	}
	got, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	if !bytes.Equal(got, data) {
		return 0, fmt.Errorf("round trip changed %d bytes into %d different ones", len(data), len(got))
	}
	return compressed, nil
}

func TestRegisteredAndShrinksBatches(t *testing.T) {
	c := encoding.GetCompressor(zstd.Name)
	if c == nil {
		t.Fatalf("no gRPC compressor named %q", zstd.Name)
	}
	data := batch(t, 2000, 0)
	n, err := roundTrip(c, data)
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64(len(data)) / float64(n)
	t.Logf("2,000-sample batch: %d bytes → %d (%.1f×)", len(data), n, ratio)
	if ratio < 3 {
		t.Fatalf("batch shrank only %.1f×", ratio)
	}
}

// Encoders come back to their pool between messages and the decoder is
// shared; many streams at once must not share one encoder's state.
func TestConcurrentStreams(t *testing.T) {
	c := encoding.GetCompressor(zstd.Name)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				if _, err := roundTrip(c, batch(t, 200, g*1000+i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkCompress(b *testing.B) {
	c := encoding.GetCompressor(zstd.Name)
	data := batch(b, 2000, 0)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var out bytes.Buffer
	for b.Loop() {
		out.Reset()
		w, _ := c.Compress(&out)
		_, _ = w.Write(data)
		_ = w.Close()
	}
	b.ReportMetric(float64(len(data))/float64(out.Len()), "ratio")
}

func BenchmarkDecompress(b *testing.B) {
	c := encoding.GetCompressor(zstd.Name)
	data := batch(b, 2000, 0)
	var comp bytes.Buffer
	w, _ := c.Compress(&comp)
	_, _ = w.Write(data)
	_ = w.Close()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, _ := c.Decompress(bytes.NewReader(comp.Bytes()))
		_, _ = io.Copy(io.Discard, r)
	}
}
