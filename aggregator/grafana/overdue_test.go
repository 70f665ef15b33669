package grafana

import (
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/dashboards"
)

// The configured acknowledgement deadline reaches every park's alarm
// dashboard; without one the dashboards' default applies.
func TestAckOverdueReachesAlarmDashboards(t *testing.T) {
	for _, c := range []struct {
		overdue time.Duration
		want    string
	}{{30 * time.Minute, "30"}, {0, "15"}} {
		cfg := testConfig("")
		cfg.AckOverdue = c.overdue
		st, err := Desired(cfg, twoParks)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range st.Parks {
			for _, d := range p.Dashboards {
				if d.Kind != dashboards.KindAlarms {
					continue
				}
				n++
				if got := d.Constants()["ack_overdue_min"]; got != c.want {
					t.Errorf("ack_overdue %v: %s's ack_overdue_min %q, want %s", c.overdue, d.UID, got, c.want)
				}
			}
		}
		if n != len(st.Parks) || n == 0 {
			t.Fatalf("%d alarm dashboards for %d parks", n, len(st.Parks))
		}
	}
}
