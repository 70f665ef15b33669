package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	chproto "github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

func TestClassify(t *testing.T) {
	ex := func(code int32) error {
		return fmt.Errorf("insert samples: %w", &chproto.Exception{Code: code, Message: "x"})
	}
	for _, c := range []struct {
		name      string
		err       error
		permanent bool
		throttled bool
	}{
		{"throwIf", ex(395), true, false},
		{"type mismatch", ex(53), true, false},
		{"cannot parse", ex(6), true, false},
		{"unknown server code", ex(4242), true, false},
		{"too many parts", ex(252), false, true},
		{"memory limit", ex(241), false, true},
		{"too many queries", ex(202), false, true},
		{"unknown table", ex(60), false, false},
		{"network", ex(210), false, false},
		{"read timeout", fmt.Errorf("read: %w", context.DeadlineExceeded), false, false},
		{"eof", io.ErrUnexpectedEOF, false, false},
		{"already permanent", permanent(errors.New("nil batch")), true, false},
	} {
		err := classify(c.err)
		var th *ThrottleError
		if IsPermanent(err) != c.permanent || errors.As(err, &th) != c.throttled {
			t.Errorf("%s: classified %T %v", c.name, err, err)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: classification lost the cause", c.name)
		}
	}
}
