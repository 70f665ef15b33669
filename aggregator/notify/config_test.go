package notify_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/lifeline-telemetry/lifeline/aggregator/notify"
)

func load(t *testing.T, path string) notify.Config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := notify.DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestValidConfig(t *testing.T) {
	cfg := load(t, "testdata/valid.yaml")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if s := notify.NewSenders(cfg, nil); len(s) != 5 {
		t.Errorf("%d senders, want one per recipient", len(s))
	}
	if err := notify.DefaultConfig().Validate(); err != nil {
		t.Errorf("disabled default refused: %v", err)
	}
}

func TestInvalidConfigNamesEveryProblem(t *testing.T) {
	err := load(t, "testdata/invalid.yaml").Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"flood: want limit >= 1",
		`smtp.addr "nowhere"`,
		`smtp.tls "ssl"`,
		"smtp.from",
		"recipients.mail: email: to must list",
		`recipients.robot: type "slack"`,
		`recipients.ding: url "ftp://x"`,
		"recipients.wecom: secret",
		"rules[0] (bad).steps[1].after",
		`rules[0] (bad).steps[1].recipients: unknown recipient "nobody"`,
		"rules[0] (bad).match.priorities: 4",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}
