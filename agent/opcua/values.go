package opcua

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gopcua/opcua/ua"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// timeSource reports how a sample's source time was chosen.
type timeSource int

const (
	fromSource  timeSource = iota // the DataValue's SourceTimestamp
	fromServer                    // no SourceTimestamp: the ServerTimestamp
	fromReceive                   // neither: the agent's receive time
)

// newSample turns one DataValue of a point into a sample.
//
// Timestamps: SourceTimeNs is the SourceTimestamp; when the server sent none
// (or one before 1970) it falls back to the ServerTimestamp, then to the
// receive time, and the returned timeSource says which was used.
// ServerTimeNs is 0 when the server sent no ServerTimestamp.
//
// Status is the DataValue's status code as received. A DataValue without a
// value (typically with a Bad status) yields a sample whose Value is unset.
func newSample(pointID string, dv *ua.DataValue, received time.Time) (*lifelinev1.Sample, timeSource) {
	s := new(lifelinev1.Sample)
	return s, fillSample(s, nil, pointID, dv, received)
}

// fillSample is newSample into a zero s. A number value goes into num
// when it is not nil, so that a caller converting many values can
// allocate them together (see sampleSlab).
func fillSample(s *lifelinev1.Sample, num *lifelinev1.Sample_Number, pointID string, dv *ua.DataValue, received time.Time) timeSource {
	s.PointId, s.ReceiveTimeNs = pointID, received.UnixNano()
	if dv == nil {
		s.SourceTimeNs = s.ReceiveTimeNs
		s.Status = uint32(ua.StatusBadNoData)
		return fromReceive
	}
	s.Status = uint32(dv.Status)
	s.ServerTimeNs = unixNano(dv.ServerTimestamp)
	src := fromSource
	switch {
	case unixNano(dv.SourceTimestamp) != 0:
		s.SourceTimeNs = unixNano(dv.SourceTimestamp)
	case s.ServerTimeNs != 0:
		s.SourceTimeNs, src = s.ServerTimeNs, fromServer
	default:
		s.SourceTimeNs, src = s.ReceiveTimeNs, fromReceive
	}
	if dv.Value != nil {
		setValue(s, dv.Value.Value(), num)
	}
	return src
}

// unixNano returns t in Unix nanoseconds, or 0 for a zero time or one
// before 1970 (which gopcua produces when decoding a DateTime of 0 or a
// nonsensical one).
func unixNano(t time.Time) int64 {
	if t.IsZero() || t.Before(time.Unix(0, 1)) {
		return 0
	}
	return t.UnixNano()
}

// setValue maps an OPC UA variant value onto the sample's value:
//
//   - Boolean → Flag
//   - every integer and floating-point type, and StatusCode → Number
//     (64-bit integers beyond ±2^53 lose precision; Float is converted
//     through its shortest decimal form, so 12.3f stays 12.3; NaN and ±Inf
//     pass through unchanged)
//   - DateTime → Number, as Unix seconds with a fractional part (0 for the
//     OPC UA null DateTime), so that it stays comparable and plottable
//   - String, LocalizedText (its text) → Text
//   - ByteString → Text when it is valid UTF-8, otherwise "base64:" followed
//     by its standard base64 encoding
//   - anything else (NodeID, QualifiedName, GUID, arrays, structures) → Text
//     as formatted by fmt
//   - no value (nil) → unset
//
// Text is always valid UTF-8: invalid sequences are replaced by U+FFFD.
func setValue(s *lifelinev1.Sample, v any, num *lifelinev1.Sample_Number) {
	switch x := v.(type) {
	case nil:
		return
	case bool:
		s.Value = &lifelinev1.Sample_Flag{Flag: x}
	case int8:
		s.Value = number(float64(x), num)
	case uint8:
		s.Value = number(float64(x), num)
	case int16:
		s.Value = number(float64(x), num)
	case uint16:
		s.Value = number(float64(x), num)
	case int32:
		s.Value = number(float64(x), num)
	case uint32:
		s.Value = number(float64(x), num)
	case int64:
		s.Value = number(float64(x), num)
	case uint64:
		s.Value = number(float64(x), num)
	case float32:
		f, err := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		if err != nil {
			f = float64(x)
		}
		s.Value = number(f, num)
	case float64:
		s.Value = number(x, num)
	case ua.StatusCode:
		s.Value = number(float64(uint32(x)), num)
	case time.Time:
		var secs float64
		if ns := unixNano(x); ns != 0 {
			secs = float64(ns) / 1e9
		}
		s.Value = number(secs, num)
	case string:
		s.Value = text(x)
	case *ua.LocalizedText:
		if x == nil {
			return
		}
		s.Value = text(x.Text)
	case []byte:
		if utf8.Valid(x) {
			s.Value = text(string(x))
		} else {
			s.Value = text("base64:" + base64.StdEncoding.EncodeToString(x))
		}
	case *ua.NodeID:
		s.Value = text(x.String())
	case *ua.QualifiedName:
		if x == nil {
			return
		}
		if x.NamespaceIndex == 0 {
			s.Value = text(x.Name)
		} else {
			s.Value = text(fmt.Sprintf("%d:%s", x.NamespaceIndex, x.Name))
		}
	case *ua.ExtensionObject:
		if x == nil || x.Value == nil {
			return
		}
		s.Value = text(fmt.Sprintf("%+v", x.Value))
	default:
		s.Value = text(fmt.Sprint(x))
	}
}

// number returns f in num, or in a new value when num is nil.
func number(f float64, num *lifelinev1.Sample_Number) *lifelinev1.Sample_Number {
	if num == nil {
		return &lifelinev1.Sample_Number{Number: f}
	}
	num.Number = f
	return num
}

// text makes a text value valid UTF-8. It is the one place text is
// repaired: protobuf refuses to encode anything else, and the batcher
// encodes samples as the readers deliver them.
func text(s string) *lifelinev1.Sample_Text {
	return &lifelinev1.Sample_Text{Text: strings.ToValidUTF8(s, "\uFFFD")}
}
