package obs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Check reports on one part of the process: a nil error when it is fine,
// and a short note either way (which sources are down, how many batches
// wait). It must return soon after ctx ends.
type Check func(ctx context.Context) (note string, err error)

// checkTimeout bounds one probe's checks, so a probe never hangs on a
// dependency that does not answer.
const checkTimeout = 5 * time.Second

// named is one registered check.
type named struct {
	name  string
	check Check
}

// checks holds the checks of one endpoint, in registration order.
type checks struct {
	mu   sync.Mutex
	list []named
}

func (c *checks) add(name string, check Check) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, named{name, check})
}

func (c *checks) snapshot() []named {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]named(nil), c.list...)
}

// CheckResult is one check's outcome in a /healthz or /readyz answer.
type CheckResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Note  string `json:"note,omitempty"`
	Error string `json:"error,omitempty"`
}

// HealthReport is the JSON body of /healthz and /readyz (?format=json).
type HealthReport struct {
	Status string        `json:"status"` // "ok" or "failed"
	Checks []CheckResult `json:"checks"`
}

// runChecks runs every check at once, each bounded by checkTimeout, and returns
// their results in registration order.
func runChecks(ctx context.Context, list []named) HealthReport {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	rep := HealthReport{Status: "ok", Checks: make([]CheckResult, len(list))}
	var wg sync.WaitGroup
	for i, n := range list {
		wg.Go(func() {
			note, err := n.check(ctx)
			r := CheckResult{Name: n.name, OK: err == nil, Note: note}
			if err != nil {
				r.Error = err.Error()
			}
			rep.Checks[i] = r
		})
	}
	wg.Wait()
	for _, r := range rep.Checks {
		if !r.OK {
			rep.Status = "failed"
		}
	}
	return rep
}

// healthHandler answers 200 when every check passes and 503 otherwise. The
// plain-text body follows Kubernetes' /healthz: "ok" alone on success, one
// "[+]name ok" or "[-]name failed: why" line a check on failure or with
// ?verbose; ?format=json (or Accept: application/json) gives a
// HealthReport.
func healthHandler(endpoint string, sets ...*checks) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var list []named
		for _, s := range sets {
			list = append(list, s.snapshot()...)
		}
		rep := runChecks(r.Context(), list)
		code := http.StatusOK
		if rep.Status != "ok" {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(rep)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(code)
		_, verbose := r.URL.Query()["verbose"]
		if code == http.StatusOK && !verbose {
			fmt.Fprintln(w, "ok")
			return
		}
		fmt.Fprint(w, rep.Text(endpoint))
	})
}

// Text renders the report as Kubernetes does: a line a check, then whether
// the endpoint's check passed.
func (rep HealthReport) Text(endpoint string) string {
	var b strings.Builder
	for _, c := range rep.Checks {
		switch {
		case !c.OK:
			fmt.Fprintf(&b, "[-]%s failed: %s\n", c.Name, c.Error)
		case c.Note != "":
			fmt.Fprintf(&b, "[+]%s ok: %s\n", c.Name, c.Note)
		default:
			fmt.Fprintf(&b, "[+]%s ok\n", c.Name)
		}
	}
	result := "passed"
	if rep.Status != "ok" {
		result = "failed"
	}
	fmt.Fprintf(&b, "%s check %s\n", endpoint, result)
	return b.String()
}
