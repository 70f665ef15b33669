package store_test

import (
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }
