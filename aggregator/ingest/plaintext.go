package ingest

import (
	"errors"
	"net"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// insecureWarnEvery repeats the plaintext warning so that it shows in any
// recent window of the log, not only at start.
const insecureWarnEvery = 10 * time.Minute

// validate refuses a TLS setup that lets anyone claim any site: plain text
// is for a link on one machine unless a second switch says otherwise.
func (t ServerTLS) validate(listen string) error {
	if !t.Insecure {
		if t.CertFile == "" || t.KeyFile == "" || t.ClientCAFile == "" {
			return errors.New("server.tls: cert_file, key_file and client_ca_file are required (or insecure: true for a link on one machine)")
		}
		return nil
	}
	if t.InsecureAllowRemote || loopbackListen(listen) {
		return nil
	}
	return errors.New("server.tls.insecure on " + listen + ": plain text lets any client claim any site; listen on 127.0.0.1, use mutual TLS, " +
		"or set server.tls.insecure_allow_remote: true on a network you control")
}

// loopbackListen reports whether listen binds loopback only. An empty
// host or a name other than localhost may mean every interface.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (r *Receiver) credentials() (credentials.TransportCredentials, error) {
	if r.cfg.TLS.Insecure {
		r.guard.insecure.Set(1)
		return insecure.NewCredentials(), nil
	}
	r.guard.insecure.Set(0)
	return serverCredentials(r.cfg.TLS, r.guard)
}

// startWatch starts the receiver's one background loop: the periodic
// plaintext warning, or the poll of the revoked list (so that a revoked
// agent's open connection is cut even when no handshake rereads it).
func (r *Receiver) startWatch(addr string) {
	var loop func(stop <-chan struct{})
	switch {
	case r.cfg.TLS.Insecure:
		loop = func(stop <-chan struct{}) { warnInsecure(stop, addr, insecureWarnEvery, r.logger.Warn) }
	case r.cfg.TLS.RevokedFile != "":
		loop = func(stop <-chan struct{}) { r.guard.watch(stop, revokedPollEvery) }
	default:
		return
	}
	stop, done := make(chan struct{}), make(chan struct{})
	r.mu.Lock()
	r.stopWatch, r.watched = stop, done
	r.mu.Unlock()
	go func() {
		defer close(done)
		loop(stop)
	}()
}

func (r *Receiver) stopWatching() {
	r.mu.Lock()
	stop, done := r.stopWatch, r.watched
	r.stopWatch = nil
	r.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

// warnInsecure warns now and every period until stop closes.
func warnInsecure(stop <-chan struct{}, addr string, every time.Duration, warn func(string, ...any)) {
	msg := "ingest serves PLAIN TEXT without client certificates: any client that reaches it can write for any site"
	warn(msg, "addr", addr, "remote_allowed", !loopbackListen(addr))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			warn(msg, "addr", addr, "remote_allowed", !loopbackListen(addr))
		}
	}
}
