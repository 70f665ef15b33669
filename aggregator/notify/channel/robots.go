package channel

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Formats of robot messages.
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
)

// DingTalk is a DingTalk custom group robot
// (https://oapi.dingtalk.com/robot/send?access_token=…). With Secret set
// ("加签"), each request carries timestamp (ms) and sign =
// base64(HMAC-SHA256(key secret, timestamp+"\n"+secret)) as URL-encoded
// query parameters.
type DingTalk struct {
	URL    string
	Secret string
	Format string // text or markdown (default)
	Client *http.Client
	Now    func() time.Time // nil: time.Now
}

// DingTalkSign is DingTalk's signature of a millisecond timestamp.
func DingTalkSign(timestampMs int64, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestampMs, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Send posts m as a text or markdown message.
func (d *DingTalk) Send(ctx context.Context, m Message) error {
	target := d.URL
	if d.Secret != "" {
		ts := now(d.Now).UnixMilli()
		u, err := url.Parse(d.URL)
		if err != nil {
			return permanentf("dingtalk url: %w", err)
		}
		q := u.Query()
		q.Set("timestamp", strconv.FormatInt(ts, 10))
		q.Set("sign", DingTalkSign(ts, d.Secret))
		u.RawQuery = q.Encode()
		target = u.String()
	}
	var body map[string]any
	if d.Format == FormatText {
		body = map[string]any{"msgtype": "text", "text": map[string]string{
			"content": withID(m.Subject+"\n"+m.Text, m.ID)}}
	} else {
		body = map[string]any{"msgtype": "markdown", "markdown": map[string]string{
			"title": m.Subject, "text": withID("### "+m.Subject+"\n\n"+m.markdown(), m.ID)}}
	}
	reply, err := postJSON(ctx, d.Client, target, body)
	if err != nil {
		return fmt.Errorf("dingtalk: %w", err)
	}
	return checkRobotReply("dingtalk", reply)
}

// WeCom is a WeCom (企业微信) group robot
// (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…); the key in
// the URL is its only credential.
type WeCom struct {
	URL    string
	Format string // text or markdown (default)
	Client *http.Client
}

// Send posts m as a text or markdown message.
func (w *WeCom) Send(ctx context.Context, m Message) error {
	var body map[string]any
	if w.Format == FormatText {
		body = map[string]any{"msgtype": "text", "text": map[string]string{
			"content": withID(m.Subject+"\n"+m.Text, m.ID)}}
	} else {
		body = map[string]any{"msgtype": "markdown", "markdown": map[string]string{
			"content": withID("### "+m.Subject+"\n"+m.markdown(), m.ID)}}
	}
	reply, err := postJSON(ctx, w.Client, w.URL, body)
	if err != nil {
		return fmt.Errorf("wecom: %w", err)
	}
	return checkRobotReply("wecom", reply)
}

// Feishu is a Feishu (飞书) custom group robot
// (https://open.feishu.cn/open-apis/bot/v2/hook/…). With Secret set, the
// body carries timestamp (seconds, a string) and sign =
// base64(HMAC-SHA256(key timestamp+"\n"+secret, empty message)).
type Feishu struct {
	URL    string
	Secret string
	Format string // text (default) or markdown, sent as a "post" rich text
	Client *http.Client
	Now    func() time.Time
}

// FeishuSign is Feishu's signature of a timestamp in seconds.
func FeishuSign(timestamp int64, secret string) string {
	mac := hmac.New(sha256.New, []byte(strconv.FormatInt(timestamp, 10)+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Send posts m as a text or post message.
func (f *Feishu) Send(ctx context.Context, m Message) error {
	body := map[string]any{}
	if f.Format == FormatMarkdown {
		// A post holds paragraphs of text runs; one run per line keeps
		// Chinese text exactly as written.
		var lines [][]map[string]string
		for _, l := range strings.Split(withID(m.Text, m.ID), "\n") {
			lines = append(lines, []map[string]string{{"tag": "text", "text": l}})
		}
		body["msg_type"] = "post"
		body["content"] = map[string]any{"post": map[string]any{"zh_cn": map[string]any{
			"title": m.Subject, "content": lines}}}
	} else {
		body["msg_type"] = "text"
		body["content"] = map[string]string{"text": withID(m.Subject+"\n"+m.Text, m.ID)}
	}
	if f.Secret != "" {
		ts := now(f.Now).Unix()
		body["timestamp"] = strconv.FormatInt(ts, 10)
		body["sign"] = FeishuSign(ts, f.Secret)
	}
	reply, err := postJSON(ctx, f.Client, f.URL, body)
	if err != nil {
		return fmt.Errorf("feishu: %w", err)
	}
	return checkRobotReply("feishu", reply)
}

func now(f func() time.Time) time.Time {
	if f == nil {
		return time.Now()
	}
	return f()
}
