package obs

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestLogConfig(t *testing.T) {
	if err := DefaultLog().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for _, c := range []struct {
		cfg  LogConfig
		want string // "" when valid
	}{
		{LogConfig{Level: "WARN", Format: "json"}, ""},
		{LogConfig{Level: "verbose", Format: "text"}, `log.level "verbose": want debug, info, warn or error`},
		{LogConfig{Level: "info", Format: "xml"}, `log.format "xml": want text or json`},
	} {
		err := c.cfg.Validate()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: got %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestNewLoggerLevelAndFormat(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(LogConfig{Level: "warn", Format: "json"}, &buf)
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("want one JSON record, got %q: %v", buf.String(), err)
	}
	if rec["msg"] != "shown" || rec["level"] != "WARN" {
		t.Fatalf("record %v", rec)
	}
	buf.Reset()
	NewLogger(DefaultLog(), &buf).Debug("hidden")
	NewLogger(DefaultLog(), &buf).Info("text", "k", "v")
	if got := buf.String(); !strings.Contains(got, "msg=text k=v") || strings.Contains(got, "hidden") {
		t.Fatalf("text output %q", got)
	}
}
