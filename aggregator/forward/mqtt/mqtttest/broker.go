// Package mqtttest runs Debian's mosquitto broker for tests: a plain and an
// optional TLS listener on loopback, persistence in the test's directory.
package mqtttest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/linkca"
)

// ErrNoBroker reports that no mosquitto binary was found.
var ErrNoBroker = errors.New("mosquitto not found on PATH or in /usr/sbin (install it with: apt-get install -y mosquitto)")

const (
	readyTimeout = 10 * time.Second
	stopTimeout  = 10 * time.Second
)

// Options shape the broker.
type Options struct {
	// TLS adds a TLS listener whose certificates are made for the test.
	TLS bool
	// RequireCertificate makes the TLS listener refuse clients without a
	// certificate signed by the test CA.
	RequireCertificate bool
	// ACL, when set, is the broker's acl_file: which topics clients may
	// read and write (e.g. "topic readwrite province/#").
	ACL string
	// Users, when set, are the only accounts the broker lets in (name to
	// password); Subscribe then logs in as SubscriberUser.
	Users map[string]string
	// MaxPacketSize, when set, is the largest packet the broker takes; it
	// disconnects a client that sends a larger one.
	MaxPacketSize int
}

// SubscriberUser is the account Subscribe uses on a broker with Users.
const SubscriberUser = "subscriber"

// SubscriberPassword is its password.
const SubscriberPassword = "订阅-secret"

// Certs are the files of a broker's TLS listener and a client certificate
// the same CA signed.
type Certs struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// Broker is a mosquitto process. Stop and Start it again: it keeps its
// ports, its sessions and its queued messages (persistence is on).
type Broker struct {
	bin     string
	dir     string
	Port    int
	TLSPort int // 0 without TLS
	Certs   Certs
	auth    bool // Users were given

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a broker for t and stops it when the test ends. Without
// mosquitto the test is skipped, or fails when the CI environment variable
// is set.
func Start(t testing.TB, o Options) *Broker {
	t.Helper()
	bin, err := findBinary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	b := &Broker{bin: bin, dir: t.TempDir()}
	if b.Port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	if o.TLS {
		if b.TLSPort, err = freePort(); err != nil {
			t.Fatal(err)
		}
		if b.Certs, err = makeCerts(b.dir); err != nil {
			t.Fatal(err)
		}
	}
	if o.ACL != "" {
		if err := os.WriteFile(filepath.Join(b.dir, "acl"), []byte(o.ACL+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if len(o.Users) > 0 {
		b.auth = true
		if err := writePasswords(filepath.Join(b.dir, "passwd"), o.Users); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(b.confPath(), []byte(b.config(o)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.Stop()
		if t.Failed() || testing.Verbose() {
			t.Logf("mosquitto log:\n%s", b.Log())
		}
	})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	return b
}

// URL is the plain listener's address, mqtt://127.0.0.1:port.
func (b *Broker) URL() string { return fmt.Sprintf("mqtt://127.0.0.1:%d", b.Port) }

// TLSURL is the TLS listener's address, mqtts://127.0.0.1:port.
func (b *Broker) TLSURL() string { return fmt.Sprintf("mqtts://127.0.0.1:%d", b.TLSPort) }

// Log returns what the broker has logged so far.
func (b *Broker) Log() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, "mosquitto.log"))
	return string(data)
}

func (b *Broker) confPath() string { return filepath.Join(b.dir, "mosquitto.conf") }

func (b *Broker) config(o Options) string {
	var s strings.Builder
	fmt.Fprintf(&s, "user root\n")
	fmt.Fprintf(&s, "per_listener_settings false\nallow_anonymous %t\n", len(o.Users) == 0)
	if len(o.Users) > 0 {
		fmt.Fprintf(&s, "password_file %s\n", filepath.Join(b.dir, "passwd"))
	}
	fmt.Fprintf(&s, "persistence true\npersistence_location %s/\n", b.dir)
	fmt.Fprintf(&s, "log_dest file %s\nlog_type all\n", filepath.Join(b.dir, "mosquitto.log"))
	// Queue every message for a disconnected subscriber: the tests count them.
	fmt.Fprintf(&s, "max_queued_messages 0\nmax_queued_bytes 0\n")
	if o.MaxPacketSize > 0 {
		fmt.Fprintf(&s, "max_packet_size %d\n", o.MaxPacketSize)
	}
	if o.ACL != "" {
		fmt.Fprintf(&s, "acl_file %s\n", filepath.Join(b.dir, "acl"))
	}
	fmt.Fprintf(&s, "listener %d 127.0.0.1\n", b.Port)
	if o.TLS {
		fmt.Fprintf(&s, "listener %d 127.0.0.1\n", b.TLSPort)
		fmt.Fprintf(&s, "cafile %s\ncertfile %s\nkeyfile %s\n", b.Certs.CA, b.Certs.ServerCert, b.Certs.ServerKey)
		fmt.Fprintf(&s, "require_certificate %t\n", o.RequireCertificate)
	}
	return s.String()
}

// Start starts the broker process and waits until its listeners accept.
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return errors.New("mosquitto already running")
	}
	cmd := exec.Command(b.bin, "-c", b.confPath())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := os.OpenFile(filepath.Join(b.dir, "mosquitto.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mosquitto: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	b.cmd, b.done = cmd, done

	deadline := time.Now().Add(readyTimeout)
	for _, port := range []int{b.Port, b.TLSPort} {
		if port == 0 {
			continue
		}
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-done:
				b.cmd = nil
				out, _ := os.ReadFile(filepath.Join(b.dir, "mosquitto.out"))
				return fmt.Errorf("mosquitto exited: %s%s", out, b.Log())
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("mosquitto not listening on %d after %v", port, readyTimeout)
			}
		}
	}
	return nil
}

// Stop ends the broker with SIGTERM, so it saves its sessions and queued
// messages, and waits for it; SIGKILL after a timeout.
func (b *Broker) Stop() error { return b.signal(syscall.SIGTERM) }

// Kill ends the broker with SIGKILL: what it had not saved since its last
// Stop is lost, sessions and queued messages too.
func (b *Broker) Kill() error { return b.signal(syscall.SIGKILL) }

// Freeze stops the broker with SIGSTOP: connections stay open, nothing is
// answered. Stop, Kill or Thaw end it.
func (b *Broker) Freeze() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return errors.New("mosquitto not running")
	}
	return syscall.Kill(-b.cmd.Process.Pid, syscall.SIGSTOP)
}

// Thaw continues a frozen broker.
func (b *Broker) Thaw() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return errors.New("mosquitto not running")
	}
	return syscall.Kill(-b.cmd.Process.Pid, syscall.SIGCONT)
}

func (b *Broker) signal(sig syscall.Signal) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return nil
	}
	_ = syscall.Kill(-b.cmd.Process.Pid, sig)
	_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGCONT) // a frozen broker handles SIGTERM only once continued
	select {
	case <-b.done:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.done
	}
	b.cmd = nil
	return nil
}

func findBinary() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto", nil
	}
	return "", ErrNoBroker
}

// writePasswords writes a mosquitto password file with mosquitto_passwd,
// which hashes the way the installed broker expects; SubscriberUser is added.
func writePasswords(path string, users map[string]string) error {
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		bin = "/usr/bin/mosquitto_passwd"
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return err
	}
	all := map[string]string{SubscriberUser: SubscriberPassword}
	for u, p := range users {
		all[u] = p
	}
	for u, p := range all {
		if out, err := exec.Command(bin, "-b", path, u, p).CombinedOutput(); err != nil {
			return fmt.Errorf("mosquitto_passwd %s: %v: %s", u, err, out)
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// makeCerts issues a CA, the broker's certificate for 127.0.0.1 and
// localhost, and a client certificate, with the link CA's code.
func makeCerts(dir string) (Certs, error) {
	caDir := filepath.Join(dir, "ca")
	if err := linkca.Init(caDir, "mqtt test CA"); err != nil {
		return Certs{}, err
	}
	if err := linkca.IssueServer(caDir, dir, "broker", []string{"127.0.0.1", "localhost"}, false); err != nil {
		return Certs{}, err
	}
	if _, err := linkca.IssueAgent(caDir, dir, "forwarder", false); err != nil {
		return Certs{}, err
	}
	return Certs{
		CA:         filepath.Join(caDir, linkca.CACert),
		ServerCert: filepath.Join(dir, "broker.crt"),
		ServerKey:  filepath.Join(dir, "broker.key"),
		ClientCert: filepath.Join(dir, "forwarder.crt"),
		ClientKey:  filepath.Join(dir, "forwarder.key"),
	}, nil
}
