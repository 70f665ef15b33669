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
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return found, protowire.ParseError(n)
		}
		b = b[n:]
		// A field of the wrong wire type is an unknown field to protobuf.
		if num == count && typ == protowire.BytesType {
			found++
		}
		if f := s.field(num); typ == protowire.BytesType && (f.str || f.msg != nil) {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return found, fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
			if f.str && !utf8.Valid(v) {
				return found, fmt.Errorf("field %d: %w", num, errInvalidUTF8)
			}
			if f.msg != nil {
				if _, err := f.msg.scan(v, 0); err != nil {
					return found, fmt.Errorf("field %d: %w", num, err)
				}
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return found, fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return found, nil
}

// storedBatch is the shape of a buffer entry; it is read-only once made.
var storedBatch = batchShape()

// countSamples checks a stored batch and returns how many samples it holds.
func countSamples(stored []byte) (int, error) { return storedBatch.scan(stored, batchSamples) }
