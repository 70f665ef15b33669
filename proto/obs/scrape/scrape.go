// Package scrape reads a running binary's /metrics and /readyz, for the
// status commands of both binaries and the whole-system tests.
package scrape

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Timeout bounds one request: a status command must not hang on a process
// that accepts connections and never answers.
const Timeout = 5 * time.Second

// Values are metrics by name, each summed over its series (a histogram
// gives name_sum and name_count). A metric labelled by one of the labels
// Parse was asked to split by is also kept per series, under
// "name/value".
type Values map[string]float64

// Add adds v to name and, when value is not empty, to name/value.
func (m Values) Add(name, value string, v float64) {
	m[name] += v
	if value != "" {
		m[name+"/"+value] += v
	}
}

// Labels returns the label values name was split by, sorted.
func (m Values) Labels(name string) []string {
	var out []string
	for k := range m {
		if v, ok := strings.CutPrefix(k, name+"/"); ok {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// Parse reads the Prometheus text format, splitting metrics labelled by
// any of by per label value.
func Parse(r io.Reader, by ...string) (Values, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	m := Values{}
	for name, f := range families {
		for _, mt := range f.GetMetric() {
			value := ""
			for _, l := range mt.GetLabel() {
				if slices.Contains(by, l.GetName()) {
					value = l.GetValue()
				}
			}
			switch {
			case mt.GetGauge() != nil:
				m.Add(name, value, mt.GetGauge().GetValue())
			case mt.GetCounter() != nil:
				m.Add(name, value, mt.GetCounter().GetValue())
			case mt.GetHistogram() != nil:
				m.Add(name+"_sum", value, mt.GetHistogram().GetSampleSum())
				m.Add(name+"_count", value, float64(mt.GetHistogram().GetSampleCount()))
			}
		}
	}
	return m, nil
}

// Get reads the metrics at url (http://host:port/metrics), as Parse.
func Get(ctx context.Context, url string, by ...string) (Values, error) {
	body, err := get(ctx, url, http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	m, err := Parse(body, by...)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	return m, nil
}

// get requests url and returns the body of an answer with one of codes.
func get(ctx context.Context, url string, codes ...int) (io.ReadCloser, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("not reachable at %s (is it running?): %w", url, err)
	}
	if !slices.Contains(codes, resp.StatusCode) {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return cancelOnClose{resp.Body, cancel}, nil
}

// cancelOnClose releases the request's context with its body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}
