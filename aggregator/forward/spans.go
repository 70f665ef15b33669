package forward

import (
	"fmt"
	"strconv"
	"strings"
)

// span is a half-open range [from, to) of Unix nanoseconds.
type span struct{ from, to int64 }

// spans are the periods still to send, oldest first, never overlapping.
type spans []span

// add appends s, joining it to the last span when they touch.
func (ss spans) add(s span) spans {
	if s.to <= s.from {
		return ss
	}
	if n := len(ss); n > 0 && ss[n-1].to >= s.from {
		ss[n-1].to = max(ss[n-1].to, s.to)
		return ss
	}
	return append(ss, s)
}

// total is the summed length in seconds.
func (ss spans) total() float64 {
	var ns int64
	for _, s := range ss {
		ns += s.to - s.from
	}
	return float64(ns) / 1e9
}

func (ss spans) String() string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = fmt.Sprintf("%d-%d", s.from, s.to)
	}
	return strings.Join(parts, ",")
}

func parseSpans(text string) (spans, error) {
	var out spans
	if text == "" {
		return out, nil
	}
	for _, p := range strings.Split(text, ",") {
		a, b, ok := strings.Cut(p, "-")
		from, err1 := strconv.ParseInt(a, 10, 64)
		to, err2 := strconv.ParseInt(b, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("pending span %q: want FROM-TO", p)
		}
		out = out.add(span{from, to})
	}
	return out, nil
}
