package forward

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// HTTPS posts payloads to URLs, retrying what may succeed later: network
// errors, timeouts, 408, 429 and 5xx. Any other non-2xx status is a
// permanent refusal.
type HTTPS struct {
	client  *http.Client
	headers map[string]string
	retries int
	backoff time.Duration
	ctype   string
}

// NewHTTPS returns the HTTPS transport of t. It reads t's certificates.
func NewHTTPS(t Target) (*HTTPS, error) {
	t = t.withDefaults()
	tc, err := tlsConfig(t.TLS)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	ctype := "application/json; charset=utf-8"
	if t.Encryption != nil {
		ctype = "text/plain"
	}
	return &HTTPS{client: &http.Client{Transport: tr, Timeout: t.Timeout}, headers: t.Headers,
		retries: t.Retries, backoff: t.Backoff, ctype: ctype}, nil
}

// tlsConfig builds the client TLS configuration: the platform's CA (else
// the system's) and a client certificate when given.
func tlsConfig(c TLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca %s: no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Send posts payload to url, retrying transient failures with backoff.
func (h *HTTPS) Send(ctx context.Context, url string, payload []byte) error {
	wait := h.backoff
	var err error
	for attempt := 0; ; attempt++ {
		err = h.post(ctx, url, payload)
		if err == nil || isPermanent(err) || attempt >= h.retries {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (h *HTTPS) post(ctx context.Context, url string, payload []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return &PermanentError{Err: fmt.Errorf("post %s: %w", url, err)}
	}
	req.Header.Set("Content-Type", h.ctype)
	for k, v := range h.headers {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", url, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return nil
	case s >= 500 || s == http.StatusRequestTimeout || s == http.StatusTooManyRequests:
		return fmt.Errorf("post %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	default:
		return &PermanentError{Err: fmt.Errorf("post %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))}
	}
}

// Close releases idle connections.
func (h *HTTPS) Close() error {
	h.client.CloseIdleConnections()
	return nil
}
