// Package freeport picks free loopback TCP ports for servers that tests
// and local runs start, stop and start again on the same port.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
)

// Loopback returns n distinct TCP ports free on 127.0.0.1 at the time of
// asking, below the kernel's ephemeral range where it can tell (Linux):
// a port from that range may be given to an outgoing connection while
// its server is stopped (a test restarting ClickHouse or an aggregator,
// other connections opening meanwhile), and the restart then fails with
// "Address already in use". The listeners are held until all are chosen,
// so none repeats.
func Loopback(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	lo, hi := listenRange()
	for tries := 0; len(ports) < n; tries++ {
		port := 0 // the kernel's choice, from the ephemeral range
		if hi > lo && tries < 1000 {
			port = lo + rand.IntN(hi-lo)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			if port != 0 {
				continue // taken
			}
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// floor keeps clear of well-known ports and the usual servers' (8123,
// 9000, 2181 …).
const floor = 20000

// listenRange returns ports [lo, hi) that the kernel does not hand out to
// outgoing connections, or lo == hi when it cannot tell.
func listenRange() (lo, hi int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	var first, last int
	if _, err := fmt.Sscan(string(b), &first, &last); err != nil || first-floor < 1000 {
		return 0, 0
	}
	return floor, first
}
