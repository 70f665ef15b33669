package channel

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// TLS modes of an SMTP server.
const (
	TLSStartTLS = "starttls" // plain connection upgraded by STARTTLS (port 587, 25)
	TLSImplicit = "implicit" // TLS from the first byte (port 465)
	TLSNone     = "none"     // no TLS; refused together with a password
)

// SMTP is an SMTP server that mail is submitted to.
type SMTP struct {
	Addr     string // host:port
	TLS      string // starttls (default), implicit or none
	Username string
	Password string
	From     string
	// TLSConfig, when set, replaces the default (ServerName from Addr,
	// system roots).
	TLSConfig *tls.Config
	Timeout   time.Duration // whole conversation; 0: 30s
}

// Mail sends a message to fixed recipients through an SMTP server.
type Mail struct {
	Server *SMTP
	To     []string
}

// Send mails m to the recipients.
func (m *Mail) Send(ctx context.Context, msg Message) error {
	return m.Server.SendMail(ctx, m.To, msg)
}

// SendMail sends msg to the addresses in to: UTF-8 text, subject encoded
// per RFC 2047, body base64, the notification id as Message-ID.
func (s *SMTP) SendMail(ctx context.Context, to []string, msg Message) error {
	if len(to) == 0 {
		return permanentf("mail: no recipients")
	}
	data, err := composeMail(s.From, to, msg, time.Now())
	if err != nil {
		return err
	}
	return s.deliver(ctx, to, data)
}

// deliver submits a composed message.
func (s *SMTP) deliver(ctx context.Context, to []string, data []byte) error {
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := s.submit(c, to, data); err != nil {
		return fmt.Errorf("mail via %s: %w", s.Addr, err)
	}
	return nil
}

// dial connects, says hello, upgrades to TLS and authenticates.
func (s *SMTP) dial(ctx context.Context) (*smtp.Client, error) {
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return nil, permanentf("smtp addr %q: %w", s.Addr, err)
	}
	cfg := s.TLSConfig
	if cfg == nil {
		cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	var conn net.Conn
	if s.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: cfg}).DialContext(ctx, "tcp", s.Addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("smtp dial %s: %w", s.Addr, err)
	}
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("smtp %s: %w", s.Addr, err)
	}
	if err := s.secure(c, cfg); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (s *SMTP) secure(c *smtp.Client, cfg *tls.Config) error {
	if s.TLS == "" || s.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return permanentf("smtp %s: server offers no STARTTLS", s.Addr)
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("smtp %s: starttls: %w", s.Addr, err)
		}
	}
	if s.Username == "" {
		return nil
	}
	if s.TLS == TLSNone {
		return permanentf("smtp %s: refusing to send a password without TLS", s.Addr)
	}
	host, _, _ := net.SplitHostPort(s.Addr)
	if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
		var tp *textproto.Error
		if errors.As(err, &tp) && tp.Code >= 500 {
			return &PermanentError{Err: fmt.Errorf("smtp %s: auth: %w", s.Addr, err)}
		}
		return fmt.Errorf("smtp %s: auth: %w", s.Addr, err)
	}
	return nil
}

func (s *SMTP) submit(c *smtp.Client, to []string, data []byte) error {
	if err := c.Mail(addrOnly(s.From)); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(addrOnly(rcpt)); err != nil {
			return fmt.Errorf("rcpt %s: %w", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return c.Quit()
}

// addrOnly strips a display name: "张三 <a@b>" → "a@b".
func addrOnly(a string) string {
	if i := strings.LastIndexByte(a, '<'); i >= 0 {
		if j := strings.IndexByte(a[i:], '>'); j > 0 {
			return a[i+1 : i+j]
		}
	}
	return strings.TrimSpace(a)
}

// composeMail builds the RFC 5322 message. Display names and the subject
// are RFC 2047 B-encoded; the text body is base64 in lines of 76.
func composeMail(from string, to []string, msg Message, now time.Time) ([]byte, error) {
	for _, a := range append([]string{from}, to...) {
		if strings.ContainsAny(a, "\r\n") {
			return nil, permanentf("mail address %q: line break", a)
		}
	}
	var b bytes.Buffer
	writeHeader(&b, from, to, msg.Subject, msg.ID, now)
	b.WriteString("Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	writeBase64(&b, []byte(withID(msg.Text, msg.ID)))
	return b.Bytes(), nil
}

// writeHeader writes the envelope headers every message has.
func writeHeader(b *bytes.Buffer, from string, to []string, subject, id string, now time.Time) {
	h := func(k, v string) { fmt.Fprintf(b, "%s: %s\r\n", k, v) }
	h("From", encodeAddr(from))
	encTo := make([]string, len(to))
	for i, a := range to {
		encTo[i] = encodeAddr(a)
	}
	h("To", strings.Join(encTo, ", "))
	h("Subject", mime.BEncoding.Encode("UTF-8", subject))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", "<"+id+"@lifeline.notify>")
	h("X-Lifeline-Notification-Id", id)
	h("MIME-Version", "1.0")
}

// writeBase64 writes data base64-encoded in lines of 76.
func writeBase64(b *bytes.Buffer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
}

// encodeAddr B-encodes the display name of "名字 <a@b>".
func encodeAddr(a string) string {
	i := strings.LastIndexByte(a, '<')
	if i <= 0 {
		return a
	}
	name := strings.TrimSpace(a[:i])
	return mime.BEncoding.Encode("UTF-8", strings.Trim(name, `"`)) + " " + a[i:]
}
