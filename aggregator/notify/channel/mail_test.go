package channel_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/lifeline-telemetry/lifeline/aggregator/notify/channel"
)

// mailbox is an SMTP server on loopback that keeps what it receives.
type mailbox struct {
	mu       sync.Mutex
	from     string
	rcpts    []string
	data     []byte
	authUser string
}

type session struct{ box *mailbox }

func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	s.box.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	s.box.rcpts = append(s.box.rcpts, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	s.box.data = data
	return err
}
func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "alarm@example.cn" || pass != "口令-secret" {
			return errors.New("bad credentials")
		}
		s.box.mu.Lock()
		defer s.box.mu.Unlock()
		s.box.authUser = user
		return nil
	}), nil
}

// startMailbox serves SMTP on 127.0.0.1, with STARTTLS or implicit TLS.
func startMailbox(t *testing.T, implicit bool) (*mailbox, string, *tls.Config) {
	t.Helper()
	cert, pool := selfSigned(t)
	box := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{box: box}, nil }))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	var l net.Listener
	var err error
	if implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return box, l.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

func TestMailChineseRoundTrip(t *testing.T) {
	for _, mode := range []string{channel.TLSStartTLS, channel.TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			box, addr, clientTLS := startMailbox(t, mode == channel.TLSImplicit)
			server := &channel.SMTP{Addr: addr, TLS: mode, Username: "alarm@example.cn", Password: "口令-secret",
				From: "生命线报警 <alarm@example.cn>", TLSConfig: clientTLS}
			m := &channel.Mail{Server: server, To: []string{"安全员 <safety@example.cn>", "duty@example.cn"}}
			if err := m.Send(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
			box.mu.Lock()
			defer box.mu.Unlock()
			if box.authUser != "alarm@example.cn" || box.from != "alarm@example.cn" {
				t.Errorf("auth %q from %q", box.authUser, box.from)
			}
			if strings.Join(box.rcpts, ",") != "safety@example.cn,duty@example.cn" {
				t.Errorf("rcpts %v", box.rcpts)
			}
			parsed, err := mail.ReadMessage(strings.NewReader(string(box.data)))
			if err != nil {
				t.Fatal(err)
			}
			var dec mime.WordDecoder
			subject, err := dec.DecodeHeader(parsed.Header.Get("Subject"))
			if err != nil || subject != msg.Subject {
				t.Errorf("subject %q (%v), want %q", subject, err, msg.Subject)
			}
			if raw := parsed.Header.Get("Subject"); !strings.HasPrefix(raw, "=?UTF-8?b?") && !strings.HasPrefix(raw, "=?utf-8?b?") {
				t.Errorf("subject not RFC 2047: %q", raw)
			}
			to, err := parsed.Header.AddressList("To")
			if err != nil || len(to) != 2 || to[0].Name != "安全员" {
				t.Errorf("to %v (%v)", to, err)
			}
			if got := parsed.Header.Get("Message-ID"); got != "<"+msg.ID+"@lifeline.notify>" {
				t.Errorf("message-id %q", got)
			}
			body, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, parsed.Body))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(body), msg.Text) || !strings.Contains(string(body), msg.ID) {
				t.Errorf("body %q", body)
			}
		})
	}
}

func TestMailRefusesPasswordWithoutTLS(t *testing.T) {
	_, addr, _ := startMailbox(t, false)
	server := &channel.SMTP{Addr: addr, TLS: channel.TLSNone, Username: "u", Password: "p", From: "a@b"}
	err := (&channel.Mail{Server: server, To: []string{"c@d"}}).Send(context.Background(), msg)
	if err == nil || !channel.IsPermanent(err) {
		t.Fatalf("err %v", err)
	}
}

func TestHTMLMailWithChineseAttachment(t *testing.T) {
	box, addr, clientTLS := startMailbox(t, false)
	server := &channel.SMTP{Addr: addr, TLS: channel.TLSStartTLS, From: "alarm@example.cn", TLSConfig: clientTLS}
	html := "<h1>日报 2026-03-01</h1><p>报警 12 条</p>"
	csv := []byte("点位,报警\nT101.LT,高高报\n")
	err := server.SendHTML(context.Background(), []string{"boss@example.cn"}, "report-20260301", "园区日报 2026-03-01", html,
		channel.Attachment{Name: "报警明细.csv", ContentType: "text/csv", Data: csv})
	if err != nil {
		t.Fatal(err)
	}
	box.mu.Lock()
	defer box.mu.Unlock()
	parsed, err := mail.ReadMessage(strings.NewReader(string(box.data)))
	if err != nil {
		t.Fatal(err)
	}
	var dec mime.WordDecoder
	if subject, _ := dec.DecodeHeader(parsed.Header.Get("Subject")); subject != "园区日报 2026-03-01" {
		t.Errorf("subject %q", subject)
	}
	mt, params, err := mime.ParseMediaType(parsed.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("content type %q (%v)", mt, err)
	}
	r := multipart.NewReader(parsed.Body, params["boundary"])
	var parts []string
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
		parts = append(parts, p.FileName()+"|"+string(data))
	}
	if len(parts) != 2 || parts[0] != "|"+html || parts[1] != "报警明细.csv|"+string(csv) {
		t.Errorf("parts %q", parts)
	}
}
