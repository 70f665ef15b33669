package freeport

import (
	"fmt"
	"os"
	"testing"
)

// On Linux the ports come from below the ephemeral range, all distinct.
func TestLoopbackOutsideTheEphemeralRange(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Skip("no ephemeral port range to avoid on this system")
	}
	var first, last int
	if _, err := fmt.Sscan(string(b), &first, &last); err != nil {
		t.Fatal(err)
	}
	ports, err := Loopback(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p >= first && p <= last {
			t.Errorf("port %d is in the ephemeral range %d–%d", p, first, last)
		}
		if seen[p] {
			t.Errorf("port %d twice", p)
		}
		seen[p] = true
	}
}
