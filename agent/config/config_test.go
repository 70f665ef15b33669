package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const sample = "../../packaging/config/agent.yaml"

// The sample config shows every default; it must say what Default() says.
func TestSampleConfigMatchesDefaults(t *testing.T) {
	cfg, err := Load(sample)
	if err != nil {
		t.Fatalf("sample config: %v", err)
	}
	def := Default()
	if cfg.Aggregator.ReconnectMin != def.Aggregator.ReconnectMin || cfg.Aggregator.ReconnectMax != def.Aggregator.ReconnectMax ||
		cfg.Aggregator.Keepalive != def.Aggregator.Keepalive || cfg.Aggregator.KeepaliveTimeout != def.Aggregator.KeepaliveTimeout ||
		cfg.Aggregator.MaxInFlight != def.Aggregator.MaxInFlight || cfg.Aggregator.Address != def.Aggregator.Address ||
		cfg.Aggregator.AckTimeout != def.Aggregator.AckTimeout || cfg.Aggregator.PreferredProbe != def.Aggregator.PreferredProbe ||
		cfg.Aggregator.PreferredProbes != def.Aggregator.PreferredProbes {
		t.Errorf("aggregator section differs from defaults:\n got %+v\nwant %+v", cfg.Aggregator, def.Aggregator)
	}
	if !reflect.DeepEqual(cfg.Buffer, def.Buffer) {
		t.Errorf("buffer section differs from defaults:\n got %+v\nwant %+v", cfg.Buffer, def.Buffer)
	}
	if cfg.Metrics != def.Metrics || cfg.Log != def.Log || cfg.StatusPage != def.StatusPage {
		t.Errorf("metrics/status_page/log differ from defaults")
	}
	src := cfg.Sources[0]
	want := Source{Name: src.Name, Endpoint: src.Endpoint, Points: src.Points}
	SourceDefaults(&want)
	if !reflect.DeepEqual(src, want) {
		t.Errorf("source options differ from defaults:\n got %+v\nwant %+v", src, want)
	}
	if cfg.Site.Name != "示例化工有限公司" || src.Points[0].Name != "1号甲醇储罐液位" {
		t.Errorf("Chinese text did not round-trip: %q %q", cfg.Site.Name, src.Points[0].Name)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	cfg, err := Load(sample)
	if err != nil {
		t.Fatal(err)
	}
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatalf("re-parse marshalled config: %v\n%s", err, data)
	}
	if !reflect.DeepEqual(cfg, back) {
		t.Fatalf("round trip changed the config:\n%s", data)
	}
}

func TestInvalidConfigs(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"bad-nodes.yaml", []string{
			`uses a namespace index`,
			`points[T101.LT].id: duplicate`,
			`"bad id": no spaces`,
			`want nsu=URI;s=…`,
			`kind "levle": want one of`,
			`hazard_source "HS-99": not listed`,
			`want ll <= l <= h <= hh`,
		}},
		{"unknown-key.yaml", []string{`field adress not found`}},
		{"gbk.yaml", []string{`not valid UTF-8`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.Join("../../testdata/agent", tt.file))
			if err == nil {
				t.Fatal("invalid config accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestValidateNodeID(t *testing.T) {
	for _, ok := range []string{"nsu=urn:a;s=T1.PV", "i=2258", "nsu=http://x/;i=5", "nsu=urn:a;g=72962B91-FA75-4AE6-8D28-B404DC7DAF63", "nsu=urn:a;s=储罐.液位"} {
		if err := ValidateNodeID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "ns=2;s=x", "nsu=;s=x", "nsu=urn:a", "s", "x=1", "nsu=urn:a;q=1"} {
		if err := ValidateNodeID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("want not-exist error, got %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestSourceSecurityAndReadOptions(t *testing.T) {
	base := `site: {id: S1, park: P}
aggregator: {tls: {insecure: true}}
sources:
  - name: dcs
    endpoint: opc.tcp://127.0.0.1:4840
`
	tests := []struct {
		extra string
		want  string // "" when valid
	}{
		{"", ""},
		{"    auth: username\n    username: op\n    password: x\n", ""},
		{"    auth: username\n    username: op\n", "needs username and one of password, password_file or password_env"},
		{"    auth: username\n    username: op\n    password: x\n    password_file: /f\n", "one of password, password_file or password_env"},
		{"    auth: certificate\n    user_cert_file: /c\n", "user_cert_file and user_key_file"},
		{"    auth: kerberos\n", `auth "kerberos": want anonymous, username or certificate`},
		{"    read_mode: poll\n    poll_interval: 1ms\n", "poll_interval 1ms"},
		{"    read_mode: push\n", `read_mode "push"`},
	}
	for _, tt := range tests {
		data := base + tt.extra + "    points: [{id: T1, node: \"nsu=urn:x;s=T1\"}]\n"
		cfg, err := Parse([]byte(data))
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.extra, err)
			} else if s := cfg.Sources[0]; s.PKIDir != DefaultPaths().PKI || s.ReadMode != "subscribe" && s.ReadMode != "poll" {
				t.Errorf("defaults not applied: %+v", s)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want %q", tt.extra, err, tt.want)
		}
	}
	pts := []struct {
		point string
		want  string
	}{
		{`{id: T1, node: "nsu=urn:x;s=T1", sampling_interval: 1s, deadband: {type: percent, value: 0.5}}`, ""},
		{`{id: T1, node: "nsu=urn:x;s=T1", deadband: {type: relative, value: 1}}`, `deadband.type "relative"`},
		{`{id: T1, node: "nsu=urn:x;s=T1", deadband: {type: percent, value: 150}}`, "deadband.value 150"},
		{`{id: T1, node: "nsu=urn:x;s=T1", deadband: {type: absolute, value: -1}}`, "deadband.value -1"},
	}
	for _, tt := range pts {
		_, err := Parse([]byte(base + "    points: [" + tt.point + "]\n"))
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: got %v, want %q", tt.point, err, tt.want)
		}
	}
}

// Events default to off; turned on without notifiers they read the Server
// object; a notifier that is not a node ID is refused.
func TestSourceEvents(t *testing.T) {
	src := Source{Name: "dcs", Endpoint: "opc.tcp://127.0.0.1:4840"}
	SourceDefaults(&src)
	if src.Events.Enabled || len(src.Events.Notifiers) != 0 {
		t.Fatalf("events by default: %+v", src.Events)
	}
	src = Source{Name: "dcs", Endpoint: "opc.tcp://127.0.0.1:4840", Events: Events{Enabled: true}}
	SourceDefaults(&src)
	if len(src.Events.Notifiers) != 1 || src.Events.Notifiers[0] != "i=2253" {
		t.Fatalf("notifiers by default: %v", src.Events.Notifiers)
	}
	cfg := Default()
	cfg.Site.ID, cfg.Site.Name = "S1", "site"
	src.Points = []Point{{ID: "P1", Node: "i=2258"}}
	src.Events.Notifiers = []string{"Server"}
	cfg.Sources = []Source{src}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "events.notifiers") {
		t.Fatalf("a notifier that is no node ID: %v", err)
	}
}
