package uplink

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// recordingAggregator decodes every message with gRPC's ordinary proto
// codec, as the aggregator does, keeps each batch and acks it.
type recordingAggregator struct {
	lifelinev1.UnimplementedIngestServer

	mu      sync.Mutex
	batches map[uint64][]*lifelinev1.Batch
	streams int
}

func (f *recordingAggregator) Stream(st lifelinev1.Ingest_StreamServer) error {
	if _, err := st.Recv(); err != nil {
		return err
	}
	f.mu.Lock()
	f.streams++
	f.mu.Unlock()
	if err := st.Send(&lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Welcome{
		Welcome: &lifelinev1.Welcome{MaxBatchSamples: 1000}}}); err != nil {
		return err
	}
	for {
		msg, err := st.Recv()
		if err != nil {
			return err
		}
		b := msg.GetBatch()
		if b == nil {
			continue
		}
		f.mu.Lock()
		f.batches[b.GetSeq()] = append(f.batches[b.GetSeq()], b)
		f.mu.Unlock()
		if err := st.Send(&lifelinev1.AggregatorMessage{Body: &lifelinev1.AggregatorMessage_Ack{Ack: &lifelinev1.Ack{Seq: b.GetSeq()}}}); err != nil {
			return err
		}
	}
}

// oldBatches are batches as the agent's batcher has always stored them:
// samples of every value kind, Chinese text and gap records, no seq and no
// backfill. The last one holds a seq and a backfill flag of its own, which
// the sent message must override.
func oldBatches() []*lifelinev1.Batch {
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).UnixNano()
	return []*lifelinev1.Batch{
		{Samples: []*lifelinev1.Sample{
			{PointId: "T101.LT", SourceTimeNs: base, ServerTimeNs: base + 1, ReceiveTimeNs: base + 2, Value: &lifelinev1.Sample_Number{Number: 12.5}},
			{PointId: "T101.LSHH", SourceTimeNs: base, Value: &lifelinev1.Sample_Flag{Flag: true}, Status: 0x80340000},
			{PointId: "T101.描述", SourceTimeNs: base, Value: &lifelinev1.Sample_Text{Text: "储罐液位高高 \uFFFD"}, Initial: true},
			{PointId: "GD-1", SourceTimeNs: base}, // no value: a Bad status without data
		}},
		{Samples: []*lifelinev1.Sample{{PointId: "T102.PT", SourceTimeNs: base + 1e9, Value: &lifelinev1.Sample_Number{Number: -0.25}}},
			Gaps: []*lifelinev1.Gap{{PointIds: []string{"T101.LT", "可燃气体"}, FromNs: base - 1e9, ToNs: base, Samples: 7, Reason: "buffer_full",
				Batches: []*lifelinev1.DroppedBatch{{Seq: 3, Samples: 7}}}}},
		{Gaps: []*lifelinev1.Gap{{FromNs: base, ToNs: base, Reason: "buffer_corrupt"}}},
		{Seq: 999, Backfill: true, Samples: []*lifelinev1.Sample{{PointId: "T103.TT", SourceTimeNs: base + 2e9, Value: &lifelinev1.Sample_Number{Number: 80}}}},
	}
}

// A buffer written by the previous version is sent after an upgrade, and
// the aggregator decodes from the stored bytes exactly the batch the
// previous version sent by decoding and re-encoding them: the same
// samples and gaps, the buffer's seq, backfill set for the backlog only.
func TestSendsStoredBatchesAsTheyWereWritten(t *testing.T) {
	f := &recordingAggregator{batches: map[uint64][]*lifelinev1.Batch{}}
	q := openQueue(t)
	old := oldBatches()
	var seqs []uint64
	for _, b := range old { // written before the link came up: backlog
		seqs = append(seqs, appendBatch(t, q, b))
	}
	u, stop := runUplink(t, q, serveIngest(t, f))
	waitEmpty(t, q)
	for _, b := range old { // written while connected: live
		seqs = append(seqs, appendBatch(t, q, b))
	}
	waitEmpty(t, q)
	stop()

	f.mu.Lock()
	defer f.mu.Unlock()
	total := 0
	for i, b := range append(old, old...) {
		seq := seqs[i]
		want := proto.Clone(b).(*lifelinev1.Batch)
		want.Seq, want.Backfill = seq, i < len(old)
		got := f.batches[seq]
		if len(got) != 1 {
			t.Errorf("batch %d received %d times", seq, len(got))
			continue
		}
		if !proto.Equal(want, got[0]) {
			t.Errorf("batch %d differs from what was stored:\nwant %v\ngot  %v", seq, prototext.Format(want), prototext.Format(got[0]))
		}
		total += len(b.Samples)
	}
	if st := u.Stats(); st.AckedSamples != uint64(total) || st.AckedBatches != uint64(2*len(old)) {
		t.Errorf("stats %+v, want %d batches and %d samples acked", st, 2*len(old), total)
	}
}

// An entry the aggregator could not decode is discarded before it is
// sent, even when the damage is inside a sample: sent, it would end every
// stream and stall the link. The entries after it go through.
func TestDiscardsEntriesTheAggregatorCouldNotDecode(t *testing.T) {
	good, err := proto.Marshal(oldBatches()[0])
	if err != nil {
		t.Fatal(err)
	}
	badText := []byte(string(good))
	i := indexOf(t, badText, "储")
	badText[i] = 0xff // inside a sample's text
	f := &recordingAggregator{batches: map[uint64][]*lifelinev1.Batch{}}
	q := openQueue(t)
	var seqs []uint64
	for _, data := range [][]byte{good[:len(good)-3], badText, good, {0x0a, 0x05, 0x0a}} {
		seq, err := q.Append(data)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	u, stop := runUplink(t, q, serveIngest(t, f))
	waitEmpty(t, q)
	stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.batches) != 1 || len(f.batches[seqs[2]]) != 1 {
		t.Errorf("received batches %v, want only batch %d (the third)", f.batches, seqs[2])
	}
	if f.streams != 1 {
		t.Errorf("%d streams: a damaged entry broke the link", f.streams)
	}
	if st := u.Stats(); st.AckedBatches != 1 {
		t.Errorf("stats %+v, want 1 batch acked", st)
	}
}

func indexOf(t *testing.T, b []byte, s string) int {
	t.Helper()
	for i := range len(b) - len(s) + 1 {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	t.Fatalf("%q not found", s)
	return -1
}

// appendBatch stores b as the batcher does and returns its seq.
func appendBatch(t *testing.T, q interface{ Append([]byte) (uint64, error) }, b *lifelinev1.Batch) uint64 {
	t.Helper()
	data, err := proto.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := q.Append(data)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// The wire scan accepts exactly what protobuf decodes, and counts its
// samples: checked on valid batches and on many damaged copies of them
// (bytes changed, inserted, cut). FuzzScan searches further.
func TestScanAgreesWithProtobuf(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seeds := scanSeeds(t)
	for _, s := range seeds {
		checkScan(t, s)
	}
	for range 20000 {
		data := append([]byte(nil), seeds[rng.IntN(len(seeds)-2)]...)
		for range 1 + rng.IntN(3) {
			switch i := rng.IntN(len(data)); rng.IntN(3) {
			case 0:
				data[i] = byte(rng.Uint32())
			case 1:
				data = append(data[:i], append([]byte{byte(rng.Uint32())}, data[i:]...)...)
			case 2:
				data = data[:i]
			}
			if len(data) == 0 {
				break
			}
		}
		checkScan(t, data)
	}
}

func FuzzScan(f *testing.F) {
	for _, s := range scanSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(checkScan)
}

// scanSeeds are stored batches; the last two are an empty batch and one
// empty sample.
func scanSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, b := range oldBatches() {
		data, err := proto.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	return append(seeds, nil, []byte{0x12, 0x00})
}

func checkScan(t *testing.T, data []byte) {
	t.Helper()
	n, err := countSamples(data)
	var b lifelinev1.Batch
	uerr := proto.Unmarshal(data, &b)
	if (err == nil) != (uerr == nil) {
		t.Fatalf("% x: scan says %v, protobuf says %v", data, err, uerr)
	}
	if err == nil && n != len(b.Samples) {
		t.Fatalf("% x: scan counts %d samples, protobuf decodes %d", data, n, len(b.Samples))
	}
}

// The frame around a stored batch decodes as AgentMessage{batch} with the
// given seq and backfill, for seqs of every varint length.
func TestEncodedBatchFrame(t *testing.T) {
	stored, err := proto.Marshal(oldBatches()[3]) // holds seq 999 and backfill
	if err != nil {
		t.Fatal(err)
	}
	c := newCodec()
	for _, seq := range []uint64{1, 127, 128, 1 << 35, 1<<64 - 1} {
		for _, backfill := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/%v", seq, backfill), func(t *testing.T) {
				out, err := c.Marshal(newEncodedBatch(stored, seq, backfill))
				if err != nil {
					t.Fatal(err)
				}
				var msg lifelinev1.AgentMessage
				if err := c.Unmarshal(out, &msg); err != nil {
					t.Fatal(err)
				}
				want := proto.Clone(oldBatches()[3]).(*lifelinev1.Batch)
				want.Seq, want.Backfill = seq, backfill
				if !proto.Equal(want, msg.GetBatch()) {
					t.Errorf("want %v\ngot  %v", prototext.Format(want), prototext.Format(msg.GetBatch()))
				}
				if len(msg.ProtoReflect().GetUnknown()) != 0 {
					t.Errorf("unknown fields in the message")
				}
			})
		}
	}
	if c.Name() != "proto" {
		t.Errorf("codec name %q: the aggregator looks its codec up by this name", c.Name())
	}
}

// The field numbers framed by hand are those of the protocol.
func TestFramedFieldNumbers(t *testing.T) {
	for _, f := range []struct {
		msg  proto.Message
		name protoreflect.Name
		num  protowire.Number
	}{
		{&lifelinev1.AgentMessage{}, "batch", agentMessageBatch},
		{&lifelinev1.Batch{}, "seq", batchSeq},
		{&lifelinev1.Batch{}, "samples", batchSamples},
		{&lifelinev1.Batch{}, "backfill", batchBackfill},
	} {
		fd := f.msg.ProtoReflect().Descriptor().Fields().ByName(f.name)
		if fd == nil || fd.Number() != f.num {
			t.Errorf("%s.%s: the frame uses field number %d, the protocol says %v", f.msg.ProtoReflect().Descriptor().Name(), f.name, f.num, fd)
		}
	}
}
