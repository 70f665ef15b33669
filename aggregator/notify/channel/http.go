package channel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// postJSON posts body as JSON to url and returns the response body. A
// 4xx status other than 429 is permanent; other failures may be retried.
func postJSON(ctx context.Context, client *http.Client, url string, body any) ([]byte, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, permanentf("encode payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return nil, permanentf("request %s: %w", redact(url), err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post %s: %w", redact(url), err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("post %s: read response: %w", redact(url), err)
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return out, nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
		return nil, permanentf("post %s: %s: %.200s", redact(url), resp.Status, out)
	default:
		return nil, fmt.Errorf("post %s: %s: %.200s", redact(url), resp.Status, out)
	}
}

// redact drops the query (robot tokens and keys live there) from a URL
// used in errors and logs.
func redact(url string) string {
	if i := strings.IndexByte(url, '?'); i >= 0 {
		return url[:i] + "?…"
	}
	return url
}

// robotReply is the reply of DingTalk and WeCom (errcode) and Feishu
// (code, or StatusCode on older hooks).
type robotReply struct {
	ErrCode    *int   `json:"errcode"`
	ErrMsg     string `json:"errmsg"`
	Code       *int   `json:"code"`
	Msg        string `json:"msg"`
	StatusCode *int   `json:"StatusCode"`
}

// checkRobotReply returns an error when a robot answered 200 with a
// non-zero code, which is how robots refuse (bad signature, rate limit).
func checkRobotReply(name string, body []byte) error {
	var r robotReply
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("%s reply %.200q: %w", name, body, err)
	}
	for _, c := range []struct {
		code *int
		msg  string
	}{{r.ErrCode, r.ErrMsg}, {r.Code, r.Msg}, {r.StatusCode, r.Msg}} {
		if c.code != nil && *c.code != 0 {
			return fmt.Errorf("%s refused: code %d: %s", name, *c.code, c.msg)
		}
	}
	return nil
}
