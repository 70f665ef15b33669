package grafana

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-openapi/runtime"
	httptransport "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	goapi "github.com/grafana/grafana-openapi-client-go/client"
	"github.com/grafana/grafana-openapi-client-go/models"
)

// newAPI returns a client for c. It does no I/O. It builds its own
// transport: the library's default one modifies http.DefaultTransport.
func newAPI(c Config) (*goapi.GrafanaHTTPAPI, *http.Client, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("grafana url %q: %w", c.URL, err)
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	base := strings.TrimSuffix(u.Path, "/") + "/api"
	hc := &http.Client{Timeout: timeout, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	tr := httptransport.NewWithClient(u.Host, base, []string{u.Scheme}, hc)
	// Plain numbers, not json.Number, in decoded dashboards.
	tr.Consumers[runtime.JSONMime] = runtime.ConsumerFunc(func(r io.Reader, v any) error {
		return json.NewDecoder(r).Decode(v)
	})
	var auth []runtime.ClientAuthInfoWriter
	if c.Token != "" {
		auth = append(auth, httptransport.BearerToken(c.Token))
	} else {
		auth = append(auth, httptransport.BasicAuth(c.Username, c.Password))
		if c.OrgID != 0 {
			org := strconv.FormatInt(c.OrgID, 10)
			auth = append(auth, runtime.ClientAuthInfoWriterFunc(func(r runtime.ClientRequest, _ strfmt.Registry) error {
				return r.SetHeaderParam("X-Grafana-Org-Id", org)
			}))
		}
	}
	tr.DefaultAuthentication = httptransport.Compose(auth...)
	cfg := goapi.DefaultTransportConfig().WithHost(u.Host).WithBasePath(base).WithSchemes([]string{u.Scheme})
	return goapi.New(tr, cfg, strfmt.Default), hc, nil
}

// statusOf returns the HTTP status of a failed API call, or 0 when the call
// did not get a response (network, decoding).
func statusOf(err error) int {
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		return coded.Code()
	}
	var api *runtime.APIError
	if errors.As(err, &api) {
		return api.Code
	}
	return 0
}

// grafanaStatus returns the "status" field of Grafana's error body, e.g.
// "version-mismatch" or "name-exists" with a 412.
func grafanaStatus(err error) string {
	var p interface {
		GetPayload() *models.ErrorResponseBody
	}
	if errors.As(err, &p) && p.GetPayload() != nil {
		return p.GetPayload().Status
	}
	return ""
}

// apiError names the operation and the object of a failed call, with
// Grafana's message when there is one.
type apiError struct {
	Op     string
	Object string
	Status int
	Err    error
}

func (e *apiError) Error() string {
	msg := e.Err.Error()
	var p interface {
		GetPayload() *models.ErrorResponseBody
	}
	if errors.As(e.Err, &p) && p.GetPayload() != nil && p.GetPayload().Message != nil {
		msg = fmt.Sprintf("%d %s", e.Status, *p.GetPayload().Message)
		if s := p.GetPayload().Status; s != "" {
			msg += " (" + s + ")"
		}
	}
	return fmt.Sprintf("grafana: %s %s: %s", e.Op, e.Object, msg)
}

func (e *apiError) Unwrap() error { return e.Err }

func wrap(op, object string, err error) error {
	if err == nil {
		return nil
	}
	return &apiError{Op: op, Object: object, Status: statusOf(err), Err: err}
}

// ConflictError says an object Lifeline would write is held by someone
// else: a dashboard with our UID without our tag, a foreign dashboard with
// the same title in the folder, a folder or data source name taken.
// Provisioning leaves it alone and goes on with the rest.
type ConflictError struct {
	Kind, ID, Reason string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("grafana: %s %s: %s; left unchanged", e.Kind, e.ID, e.Reason)
}
