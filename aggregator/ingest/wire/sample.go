package wire

import (
	"encoding/binary"
	"math"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// span is a range of a batch's bytes.
type span struct{ from, to int }

// samples decodes the samples of one batch into slabs: the Samples, the
// wrappers of their number values, and one string holding every point ID.
type samples struct {
	src  []byte // the encoded Batch
	ptrs []*lifelinev1.Sample
	slab []lifelinev1.Sample
	nums []lifelinev1.Sample_Number
	// ids holds each sample's point ID in src until finish copies them
	// all into one string; from < 0 marks a sample proto.Unmarshal
	// decoded, with a point ID of its own.
	ids   *[]span
	idLen int
}

// idPool recycles the point ID spans: one batch's are 32 KB, garbage as
// soon as the batch is decoded.
var idPool = sync.Pool{New: func() any { return new([]span) }}

func newSamples(src []byte, n int) samples {
	d := samples{src: src, ids: idPool.Get().(*[]span)}
	if cap(*d.ids) < n {
		*d.ids = make([]span, 0, n)
	}
	*d.ids = (*d.ids)[:0]
	if n > 0 {
		d.ptrs = make([]*lifelinev1.Sample, n)
		d.slab = make([]lifelinev1.Sample, n)
		// Most values are numbers: a slab for every sample wastes 8 bytes
		// for each of the others.
		d.nums = make([]lifelinev1.Sample_Number, 0, n)
	}
	return d
}

// release returns the spans to their pool.
func (d *samples) release() {
	idPool.Put(d.ids)
	d.ids = nil
}

// Field tags of Sample, each one byte.
const (
	tagPointID     = 1<<3 | 2
	tagSourceTime  = 2<<3 | 0
	tagServerTime  = 3<<3 | 0
	tagReceiveTime = 4<<3 | 0
	tagNumber      = 5<<3 | 1
	tagFlag        = 6<<3 | 0
	tagText        = 7<<3 | 2
	tagStatus      = 8<<3 | 0
	tagInitial     = 9<<3 | 0
	tagHistory     = 10<<3 | 0
)

// sampleFields is a Sample as read from the wire, before it is stored.
type sampleFields struct {
	id                  span
	source, server, rcv int64
	// value is the tag of the oneof's last field, 0 if none; bits holds a
	// number's or a flag's value, text a text's.
	value            byte
	bits             uint64
	text             span
	status           uint32
	initial, history bool
}

// decode decodes the next sample from src[from:to]. A sample the fast path
// does not read (an unknown field, a known one with another wire type, a
// tag written in more bytes than needed) is decoded by proto.Unmarshal; it
// returns false when the sample is malformed.
func (d *samples) decode(from, to int) bool {
	s := &d.slab[len(*d.ids)]
	d.ptrs[len(*d.ids)] = s
	if f, ok := d.read(from, to); ok {
		d.store(s, &f)
		return true
	}
	*d.ids = append(*d.ids, span{-1, -1})
	return proto.Unmarshal(d.src[from:to], s) == nil
}

// read reads the fields of the sample in src[from:to], each in turn so
// that a repeated field or oneof ends with its last value as in
// proto.Unmarshal. It returns false for what it leaves to proto.Unmarshal,
// including text that is not UTF-8.
func (d *samples) read(from, to int) (sampleFields, bool) {
	var f sampleFields
	b := d.src[:to]
	for i := from; i < to; {
		tag := b[i]
		i++
		var v uint64
		switch tag {
		case tagNumber:
			if to-i < 8 {
				return f, false
			}
			f.value, f.bits = tag, binary.LittleEndian.Uint64(b[i:])
			i += 8
			continue
		case tagPointID, tagText:
			l, k := protowire.ConsumeVarint(b[i:])
			if k < 0 || l > uint64(to-i-k) {
				return f, false
			}
			sp := span{i + k, i + k + int(l)}
			i = sp.to
			if !utf8.Valid(b[sp.from:sp.to]) {
				return f, false
			}
			if tag == tagPointID {
				f.id = sp
			} else {
				f.value, f.text = tag, sp
			}
			continue
		case tagSourceTime, tagServerTime, tagReceiveTime, tagFlag, tagStatus, tagInitial, tagHistory:
			var k int
			if v, k = protowire.ConsumeVarint(b[i:]); k < 0 {
				return f, false
			}
			i += k
		default:
			return f, false
		}
		switch tag {
		case tagSourceTime:
			f.source = int64(v)
		case tagServerTime:
			f.server = int64(v)
		case tagReceiveTime:
			f.rcv = int64(v)
		case tagFlag:
			f.value, f.bits = tag, v
		case tagStatus:
			f.status = uint32(v)
		case tagInitial:
			f.initial = protowire.DecodeBool(v)
		case tagHistory:
			f.history = protowire.DecodeBool(v)
		}
	}
	return f, true
}

// store sets s from f; its point ID waits in ids for finish.
func (d *samples) store(s *lifelinev1.Sample, f *sampleFields) {
	*d.ids = append(*d.ids, f.id)
	d.idLen += f.id.to - f.id.from
	s.SourceTimeNs, s.ServerTimeNs, s.ReceiveTimeNs = f.source, f.server, f.rcv
	s.Status, s.Initial, s.History = f.status, f.initial, f.history
	switch f.value {
	case tagNumber:
		d.nums = append(d.nums, lifelinev1.Sample_Number{Number: math.Float64frombits(f.bits)})
		s.Value = &d.nums[len(d.nums)-1]
	case tagFlag:
		s.Value = &lifelinev1.Sample_Flag{Flag: protowire.DecodeBool(f.bits)}
	case tagText:
		s.Value = &lifelinev1.Sample_Text{Text: string(d.src[f.text.from:f.text.to])}
	}
}

// finish copies the point IDs into one string, sets each sample's to its
// part of it, and returns the samples.
func (d *samples) finish() []*lifelinev1.Sample {
	var all strings.Builder
	all.Grow(d.idLen)
	for _, id := range *d.ids {
		if id.from >= 0 {
			all.Write(d.src[id.from:id.to])
		}
	}
	ids := all.String()
	at := 0
	for i, id := range *d.ids {
		if id.from >= 0 {
			n := id.to - id.from
			d.slab[i].PointId = ids[at : at+n]
			at += n
		}
	}
	return d.ptrs
}
