package launch

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/lifeline-telemetry/lifeline/proto/freeport"
	"github.com/lifeline-telemetry/lifeline/proto/obs/scrape"
)

// FreeAddrs returns n distinct loopback addresses whose ports were free at
// the time of asking, for the children to listen on (see freeport).
func FreeAddrs(n int) ([]string, error) {
	ports, err := freeport.Loopback(n)
	if err != nil {
		return nil, err
	}
	addrs := make([]string, n)
	for i, p := range ports {
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	}
	return addrs, nil
}

// WaitListening waits until something accepts connections on addr. It
// fails early, with the end of the log, if the process exits first.
func (p *Process) WaitListening(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("%s exited:\n%s", p.Name, p.Tail(3000))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not listening on %s: %w", p.Name, addr, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Scrape reads the Prometheus endpoint at addr, summing each family's
// series; a histogram gives name_sum and name_count.
func Scrape(addr string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return scrape.Get(ctx, "http://"+addr+"/metrics")
}
