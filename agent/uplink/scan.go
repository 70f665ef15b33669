package uplink

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// A stored batch is sent as it is, so before it goes the uplink walks its
// wire form once, without decoding it into messages: to count its samples
// (for the aggregator's batch limit and the acked-samples count) and to
// find an entry the aggregator could not decode. Such an entry would end
// every stream it is sent on, stalling the link for good; it is discarded
// instead, as an entry that fails to decode always was.

// errInvalidUTF8 marks a string field that protobuf would refuse to decode.
var errInvalidUTF8 = errors.New("string field is not valid UTF-8")

// shape is what the walk needs to know of a message type: which fields are
// strings, whose UTF-8 the receiver checks, and which are messages, walked
// in turn. It is derived from the generated descriptors, so fields added to
// the protocol are covered without a change here.
type shape struct {
	fields []fieldShape // by field number
}

type fieldShape struct {
	str bool
	msg *shape
}

func (s *shape) field(n protowire.Number) fieldShape {
	if int(n) < len(s.fields) {
		return s.fields[n]
	}
	return fieldShape{}
}

// batchShape returns the shape of lifeline.v1.Batch.
func batchShape() *shape {
	return shapeOf((&lifelinev1.Batch{}).ProtoReflect().Descriptor(), map[protoreflect.FullName]*shape{})
}

func shapeOf(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]*shape) *shape {
	if s, ok := seen[md.FullName()]; ok {
		return s
	}
	s := &shape{}
	seen[md.FullName()] = s
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		var f fieldShape
		switch fd.Kind() {
		case protoreflect.StringKind:
			f.str = true
		case protoreflect.MessageKind:
			f.msg = shapeOf(fd.Message(), seen)
		default:
			continue
		}
		n := int(fd.Number())
		if n >= len(s.fields) {
			s.fields = append(s.fields, make([]fieldShape, n+1-len(s.fields))...)
		}
		s.fields[n] = f
	}
	return s
}

// scan checks that b is a well-formed message of shape s and returns how
// many message fields numbered count it holds at its top level.
func (s *shape) scan(b []byte, count protowire.Number) (int, error) {
	found := 0
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return found, protowire.ParseError(n)
		}
		if !num.IsValid() { // the decoder refuses these, known or not
			return found, fmt.Errorf("field number %d out of range", num)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			if n = skipScalar(typ, b); n < 0 {
				n = protowire.ConsumeFieldValue(num, typ, b)
			}
			if n < 0 {
				return found, fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		// A field of the wrong wire type is an unknown field to protobuf,
		// so only a length-delimited one is a sample.
		if num == count {
			found++
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return found, fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		switch f := s.field(num); {
		case f.str && !utf8.Valid(v):
			return found, fmt.Errorf("field %d: %w", num, errInvalidUTF8)
		case f.msg != nil:
			if _, err := f.msg.scan(v, 0); err != nil {
				return found, fmt.Errorf("field %d: %w", num, err)
			}
		}
	}
	return found, nil
}

// consumeTag is protowire.ConsumeTag with a fast path for the one-byte
// tags of field numbers 1 to 15, which are all a batch holds.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	if c := b[0]; c >= 1<<3 && c < 0x80 {
		return protowire.Number(c >> 3), protowire.Type(c & 7), 1
	}
	return protowire.ConsumeTag(b)
}

// skipScalar returns the length of the varint or fixed-size value at the
// start of b, or -1 for anything else (including a value cut short), for
// protowire to measure or to report.
func skipScalar(typ protowire.Type, b []byte) int {
	switch typ {
	case protowire.VarintType:
		for i := 0; i < len(b) && i < 9; i++ {
			if b[i] < 0x80 {
				return i + 1
			}
		}
	case protowire.Fixed64Type:
		if len(b) >= 8 {
			return 8
		}
	case protowire.Fixed32Type:
		if len(b) >= 4 {
			return 4
		}
	}
	return -1
}

// storedBatch is the shape of a buffer entry; it is read-only once made.
var storedBatch = batchShape()

// countSamples checks a stored batch and returns how many samples it holds.
func countSamples(stored []byte) (int, error) { return storedBatch.scan(stored, batchSamples) }
