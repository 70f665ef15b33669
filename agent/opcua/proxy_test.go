package opcua

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// proxy forwards TCP connections from a fixed loopback port to a backend.
// Closing it drops every connection at once, the way a crashed server or
// a killed process does (gopcua's server, when closed, leaves its TCP
// connections open).
type proxy struct {
	l       net.Listener
	backend string
	wg      sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]bool
}

// listenProxy listens on 127.0.0.1:port, retrying while a previous
// listener's port is still being released.
func listenProxy(t *testing.T, port int, backend string) *proxy {
	t.Helper()
	var l net.Listener
	var err error
	for range 50 {
		if l, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", itoa(port))); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &proxy{l: l, backend: backend, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	return p
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, b) {
			return
		}
		p.wg.Add(2)
		go p.pipe(c, b)
		go p.pipe(b, c)
	}
}

// track registers the pair, or closes it if the proxy is closing.
func (p *proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src) // ends on EOF, a reset or close
	dst.Close()
	src.Close()
}

// close stops listening and drops every connection.
func (p *proxy) close() {
	p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
