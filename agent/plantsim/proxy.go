package plantsim

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// proxy forwards the sim's public address to the gopcua server, which
// listens on a private loopback port. gopcua's server never closes a
// client's TCP connection itself (Close only sends CloseSecureChannel and
// then waits up to 10 s for the client to hang up), and it does not report
// the port it bound; owning the public socket gives the sim both, and lets
// tests cut every connection as a network failure would.
type proxy struct {
	ln     net.Listener
	target string
	log    *slog.Logger

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newProxy(ln net.Listener, target string, log *slog.Logger) *proxy {
	return &proxy{ln: ln, target: target, log: log, conns: make(map[net.Conn]struct{})}
}

// start accepts connections until close.
func (p *proxy) start() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := p.ln.Accept()
			if err != nil {
				p.mu.Lock()
				closed := p.closed
				p.mu.Unlock()
				if closed {
					return
				}
				p.log.Warn("accept failed", "err", err)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if !p.track(c) {
				c.Close()
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(c)
			}()
		}
	}()
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		c.Close()
	}
}

// forward copies between a client and the server until either side
// closes, then closes both.
func (p *proxy) forward(client net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		p.log.Warn("connect to the OPC UA server failed", "err", err)
		p.untrack(client)
		return
	}
	if !p.track(up) {
		up.Close()
		p.untrack(client)
		return
	}
	p.log.Debug("client connected", "remote", client.RemoteAddr())
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(up, client)
		p.untrack(client, up)
	}()
	io.Copy(client, up)
	p.untrack(client, up)
	<-done
	p.log.Debug("client disconnected", "remote", client.RemoteAddr())
}

// dropAll closes every open connection; clients may connect again.
func (p *proxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// close stops accepting, closes every connection and waits for the
// proxy's goroutines.
func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.dropAll()
	p.wg.Wait()
}
