package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNotifyTestSendsToEachRecipient(t *testing.T) {
	var got []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var p map[string]any
		_ = json.Unmarshal(data, &p)
		got = append(got, p)
		if strings.HasSuffix(r.URL.Path, "/wecom") {
			io.WriteString(w, `{"errcode":93000,"errmsg":"invalid webhook url"}`)
			return
		}
		io.WriteString(w, `{"errcode":0}`)
	}))
	defer hook.Close()
	path := filepath.Join(t.TempDir(), "aggregator.yaml")
	conf := "server:\n  tls:\n    insecure: true\nnotify:\n  enabled: true\n  recipients:\n" +
		"    soc: {type: webhook, url: " + hook.URL + "/soc}\n" +
		"    duty: {type: wecom, url: " + hook.URL + "/wecom}\n" +
		"  rules:\n    - steps: [{after: 0s, recipients: [soc, duty]}]\n"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := execute("notify-test", "--config", path)
	if err == nil || !strings.Contains(err.Error(), "93000") {
		t.Errorf("err %v, want the refusing robot named", err)
	}
	if !strings.Contains(out, "soc (webhook): sent") || !strings.Contains(out, "duty (wecom): FAILED") {
		t.Errorf("output %q", out)
	}
	if len(got) != 2 || !strings.Contains(got[1]["subject"].(string), "测试") {
		t.Errorf("received %v", got)
	}
}
