package e2e

import (
	"net"
	"sync"
	"testing"
)

// proxyMode is how the test-controlled link between agent and aggregator
// behaves.
type proxyMode int

const (
	forward   proxyMode = iota // pass bytes both ways
	refuse                     // close new connections at once
	blackhole                  // accept and hold connections, forward nothing: a half-open WAN link
	dropDown                   // forward agent→aggregator only: acks never arrive
)

// proxy is a TCP relay on loopback whose behaviour a test switches.
type proxy struct {
	t      *testing.T
	target string
	lis    net.Listener

	mu    sync.Mutex
	mode  proxyMode
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, target: target, lis: lis, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.lis.Addr().String() }

func (p *proxy) setMode(m proxyMode) {
	p.mu.Lock()
	p.mode = m
	p.mu.Unlock()
}

func (p *proxy) currentMode() proxyMode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// cut closes every open connection, as a network failure would.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) close() {
	p.lis.Close()
	p.cut()
	p.wg.Wait()
}

func (p *proxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = struct{}{}
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		down, err := p.lis.Accept()
		if err != nil {
			return
		}
		switch p.currentMode() {
		case refuse:
			down.Close()
			continue
		case blackhole:
			p.track(down) // held open, never read: closed by cut or close
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			down.Close()
			continue
		}
		p.track(down)
		p.track(up)
		p.wg.Add(2)
		go p.pipe(up, down, false)
		go p.pipe(down, up, true)
	}
}

// pipe copies src to dst. Bytes travelling toward the agent are discarded
// in dropDown mode; in blackhole mode nothing moves.
func (p *proxy) pipe(dst, src net.Conn, towardAgent bool) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			switch m := p.currentMode(); {
			case m == blackhole:
				// Hold: a black hole neither forwards nor closes.
			case m == dropDown && towardAgent:
			default:
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}
