package console_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

// TestMain stops the ClickHouse server the tests share, then checks that
// no goroutine outlived its test.
func TestMain(m *testing.M) {
	code := chtest.Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
