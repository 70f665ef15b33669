package channel

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"strings"
	"time"
)

// Attachment is a file sent with an HTML mail.
type Attachment struct {
	Name        string // may be Chinese: encoded per RFC 2231 (and RFC 2047 for older clients)
	ContentType string // "" : application/octet-stream
	Data        []byte
}

// SendHTML mails an HTML body with attachments (a daily report, say) as
// multipart/mixed. id is the Message-ID's local part; "" makes a random
// one.
func (s *SMTP) SendHTML(ctx context.Context, to []string, id, subject, html string, attachments ...Attachment) error {
	if len(to) == 0 {
		return permanentf("mail: no recipients")
	}
	if id == "" {
		var rnd [16]byte
		_, _ = rand.Read(rnd[:])
		id = hex.EncodeToString(rnd[:])
	}
	data, err := composeHTML(s.From, to, id, subject, html, attachments, time.Now())
	if err != nil {
		return err
	}
	return s.deliver(ctx, to, data)
}

func composeHTML(from string, to []string, id, subject, html string, atts []Attachment, now time.Time) ([]byte, error) {
	for _, a := range append([]string{from, subject}, to...) {
		if strings.ContainsAny(a, "\r\n") {
			return nil, permanentf("mail header %q: line break", a)
		}
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	boundary := "lifeline-" + hex.EncodeToString(rnd[:])
	var b bytes.Buffer
	writeHeader(&b, from, to, subject, id, now)
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/html; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", boundary)
	writeBase64(&b, []byte(html))
	for _, a := range atts {
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		if strings.ContainsAny(ct+a.Name, "\r\n\"") {
			return nil, permanentf("attachment %q: bad name or type", a.Name)
		}
		disposition := mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; name=\"%s\"\r\nContent-Disposition: %s\r\nContent-Transfer-Encoding: base64\r\n\r\n",
			boundary, ct, mime.BEncoding.Encode("UTF-8", a.Name), disposition)
		writeBase64(&b, a.Data)
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes(), nil
}
