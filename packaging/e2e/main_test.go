package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

func TestMain(m *testing.M) {
	code := chtest.Run(m)
	if binDir != "" {
		if err := os.RemoveAll(binDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}
