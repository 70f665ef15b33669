package forward

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"text/template"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// The documented helpers render what docs/forwarding.md says.
func TestTemplateHelpers(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	var codes atomic.Pointer[codeBook]
	codes.Store(newCodeBook([]store.ForwardCode{{Kind: CodePoint, LocalID: "plant-a/T101.LT", Code: "3205LT0001"}}))
	at := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)
	h := 18.0
	for text, want := range map[string]string{
		`{{fmtTime "2006-01-02 15:04:05" .T}}`:                                    "2026-01-02 11:04:05",
		`{{fmtTime "20060102150405.000" .T}}`:                                     "20260102110405.678",
		`{{unixMs .T}} {{unix .T}}`:                                               "1767323045678 1767323045",
		`{{fmtNum 2 .V}} {{num .V}} {{fmtNum 0 .V}}`:                              "12.35 12.345 12",
		`{{opt .H}} {{opt .Nil}}`:                                                 "18 null",
		`{{code "point" "plant-a" "T101.LT"}}|{{code "point" "plant-a/T102.LT"}}`: "3205LT0001|",
		`{{json .S}}`: `"甲醇\"罐<区>\n"`,
		`{{bool01 true}}{{upper "ab"}}{{default "x" ""}}`: "1ABx",
	} {
		tpl := template.Must(template.New("t").Funcs(templateFuncs(loc, &codes)).Parse(text))
		var b bytes.Buffer
		err := tpl.Execute(&b, map[string]any{"T": at, "V": 12.345, "H": &h, "Nil": (*float64)(nil), "S": "甲醇\"罐<区>\n"})
		if err != nil || b.String() != want {
			t.Errorf("%s = %q (%v), want %q", text, b.String(), err, want)
		}
	}
}

func TestSpans(t *testing.T) {
	var ss spans
	ss = ss.add(span{10, 20}).add(span{20, 30}).add(span{40, 50}).add(span{5, 5})
	if ss.String() != "10-30,40-50" || ss.total() != 30e-9 {
		t.Fatalf("spans %s total %v", ss, ss.total())
	}
	back, err := parseSpans(ss.String())
	if err != nil || back.String() != ss.String() {
		t.Fatalf("parse %q: %v %v", ss, back, err)
	}
	if _, err := parseSpans("10-x"); err == nil {
		t.Fatal("bad span accepted")
	}
}

// 5xx is retried inside Send; 4xx is a permanent refusal at once.
func TestHTTPSStatusClasses(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch {
		case r.URL.Path == "/bad":
			w.WriteHeader(http.StatusBadRequest)
		case n < 3:
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	h, err := NewHTTPS(Target{Name: "t", Retries: 3, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.client = srv.Client()
	if err := h.Send(context.Background(), srv.URL+"/ok", []byte("{}")); err != nil || calls.Load() != 3 {
		t.Fatalf("after two 502: %v, %d calls", err, calls.Load())
	}
	calls.Store(10)
	err = h.Send(context.Background(), srv.URL+"/bad", []byte("{}"))
	if !isPermanent(err) || calls.Load() != 11 {
		t.Fatalf("400: %v (permanent %v), %d calls", err, isPermanent(err), calls.Load())
	}
	h.retries = 0
	calls.Store(0)
	if err := h.Send(context.Background(), srv.URL+"/ok", nil); err == nil || isPermanent(err) {
		t.Fatalf("502 without retries: %v", err)
	}
}
