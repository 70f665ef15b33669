package channel_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/notify/channel"
)

var msg = channel.Message{ID: "n-0123abcd", Subject: "【一级报警】储罐区 T101 液位高高",
	Text: "企业: 华东化工\n点位: T101.LT 液位 98.5 m ≥ 限值 95 m", Markdown: "**企业**: 华东化工\n\n**点位**: T101.LT 液位 98.5 m"}

// receiver records one request and answers with reply.
type receiver struct {
	*httptest.Server
	req  *http.Request
	body map[string]any
}

func newReceiver(t *testing.T, reply string) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		data, _ := io.ReadAll(req.Body)
		r.req = req
		if err := json.Unmarshal(data, &r.body); err != nil {
			t.Errorf("body %q: %v", data, err)
		}
		if ct := req.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("content type %q", ct)
		}
		io.WriteString(w, reply)
	}))
	t.Cleanup(r.Close)
	return r
}

func str(t *testing.T, m map[string]any, path ...string) string {
	t.Helper()
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%v: not an object at %s", path, p)
		}
		cur = mm[p]
	}
	s, ok := cur.(string)
	if !ok {
		t.Fatalf("%v: %#v is not a string", path, cur)
	}
	return s
}

func TestWebhookCarriesID(t *testing.T) {
	r := newReceiver(t, "ok")
	w := &channel.Webhook{URL: r.URL + "/hook"}
	if err := w.Send(context.Background(), channel.Message{ID: msg.ID, Subject: msg.Subject, Text: msg.Text,
		Data: map[string]string{"site_id": "华东化工"}}); err != nil {
		t.Fatal(err)
	}
	if got := str(t, r.body, "id"); got != msg.ID {
		t.Errorf("id %q", got)
	}
	if got := str(t, r.body, "subject"); got != msg.Subject {
		t.Errorf("subject %q", got)
	}
	if got := str(t, r.body, "data", "site_id"); got != "华东化工" {
		t.Errorf("data %q", got)
	}
}

func TestDingTalkSignedMarkdown(t *testing.T) {
	const secret = "SEC0123456789abcdef"
	r := newReceiver(t, `{"errcode":0,"errmsg":"ok"}`)
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	d := &channel.DingTalk{URL: r.URL + "/robot/send?access_token=tok", Secret: secret, Now: func() time.Time { return at }}
	if err := d.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	q := r.req.URL.Query()
	if q.Get("access_token") != "tok" {
		t.Errorf("token lost: %v", q)
	}
	ts, _ := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if ts != at.UnixMilli() {
		t.Errorf("timestamp %d, want ms %d", ts, at.UnixMilli())
	}
	// Verify independently: HMAC-SHA256(secret, ts+"\n"+secret), base64;
	// Query() has undone the URL encoding.
	if want := hmacB64(secret, q.Get("timestamp")+"\n"+secret); q.Get("sign") != want {
		t.Errorf("sign %q, want %q", q.Get("sign"), want)
	}
	if !strings.Contains(r.req.URL.RawQuery, "sign="+strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(q.Get("sign"))) {
		t.Errorf("sign not url-encoded in %q", r.req.URL.RawQuery)
	}
	if str(t, r.body, "msgtype") != "markdown" || str(t, r.body, "markdown", "title") != msg.Subject {
		t.Errorf("body %v", r.body)
	}
	if text := str(t, r.body, "markdown", "text"); !strings.Contains(text, "华东化工") || !strings.Contains(text, msg.ID) {
		t.Errorf("text %q", text)
	}
}

func TestDingTalkRefusalIsError(t *testing.T) {
	r := newReceiver(t, `{"errcode":310000,"errmsg":"sign not match"}`)
	d := &channel.DingTalk{URL: r.URL, Format: channel.FormatText}
	err := d.Send(context.Background(), msg)
	if err == nil || !strings.Contains(err.Error(), "310000") {
		t.Fatalf("err %v", err)
	}
	if str(t, r.body, "msgtype") != "text" || !strings.Contains(str(t, r.body, "text", "content"), "液位高高") {
		t.Errorf("body %v", r.body)
	}
}

func TestWeCom(t *testing.T) {
	for _, format := range []string{channel.FormatMarkdown, channel.FormatText} {
		r := newReceiver(t, `{"errcode":0,"errmsg":"ok"}`)
		w := &channel.WeCom{URL: r.URL + "/cgi-bin/webhook/send?key=k", Format: format}
		if err := w.Send(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
		if got := str(t, r.body, "msgtype"); got != format {
			t.Errorf("msgtype %q, want %q", got, format)
		}
		if c := str(t, r.body, format, "content"); !strings.Contains(c, "液位高高") || !strings.Contains(c, msg.ID) {
			t.Errorf("%s content %q", format, c)
		}
	}
}

func TestFeishuSignedText(t *testing.T) {
	const secret = "feishu-secret"
	r := newReceiver(t, `{"code":0,"msg":"success","StatusCode":0}`)
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	f := &channel.Feishu{URL: r.URL + "/open-apis/bot/v2/hook/x", Secret: secret, Now: func() time.Time { return at }}
	if err := f.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	ts := str(t, r.body, "timestamp")
	if ts != strconv.FormatInt(at.Unix(), 10) {
		t.Errorf("timestamp %q, want seconds", ts)
	}
	// Feishu: the key is timestamp+"\n"+secret, the message empty.
	if want := hmacB64(ts+"\n"+secret, ""); str(t, r.body, "sign") != want {
		t.Errorf("sign %q, want %q", str(t, r.body, "sign"), want)
	}
	if str(t, r.body, "msg_type") != "text" || !strings.Contains(str(t, r.body, "content", "text"), "华东化工") {
		t.Errorf("body %v", r.body)
	}
}

func TestFeishuPostAndRefusal(t *testing.T) {
	r := newReceiver(t, `{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}`)
	f := &channel.Feishu{URL: r.URL, Format: channel.FormatMarkdown}
	if err := f.Send(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "19021") {
		t.Fatalf("err %v", err)
	}
	if str(t, r.body, "msg_type") != "post" || str(t, r.body, "content", "post", "zh_cn", "title") != msg.Subject {
		t.Errorf("body %v", r.body)
	}
}

func TestHTTPStatusClassified(t *testing.T) {
	for code, permanent := range map[int]bool{400: true, 404: true, 429: false, 500: false, 503: false} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }))
		err := (&channel.Webhook{URL: srv.URL + "?key=secret"}).Send(context.Background(), msg)
		srv.Close()
		if err == nil || channel.IsPermanent(err) != permanent {
			t.Errorf("%d: err %v, permanent %v", code, err, channel.IsPermanent(err))
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%d: error shows the query: %v", code, err)
		}
	}
}
