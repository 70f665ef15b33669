package notify_test

import (
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

func TestMain(m *testing.M) {
	if helperMain() {
		return
	}
	chtest.Main(m)
}
