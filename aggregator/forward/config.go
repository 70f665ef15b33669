package forward

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt"
	"github.com/lifeline-telemetry/lifeline/aggregator/forward/sm4"
)

// Config is the forward: section of the aggregator's configuration.
type Config struct {
	Targets []Target `yaml:"targets"`
}

// Message kinds: each has a destination and a payload template.
const (
	KindBase      = "base"
	KindRealtime  = "realtime"
	KindAlarm     = "alarm"
	KindHeartbeat = "heartbeat"
)

// Kinds lists the message kinds in the order they are described.
var Kinds = []string{KindBase, KindRealtime, KindAlarm, KindHeartbeat}

// Target is one platform the park reports to.
type Target struct {
	// Name keys the target's cursor, gaps and codes; keep it stable.
	Name string `yaml:"name"`
	// Transport is https or mqtt.
	Transport string `yaml:"transport"`
	// MQTT is the broker connection of an mqtt target (see
	// aggregator/forward/mqtt); client_id defaults to lifeline-NAME and tls
	// to the target's tls.
	MQTT mqtt.Config `yaml:"mqtt"`
	// Headers are added to every HTTPS request (e.g. an access token).
	Headers map[string]string `yaml:"headers"`
	TLS     TLS               `yaml:"tls"`
	// Timeout bounds one send.
	Timeout time.Duration `yaml:"timeout"`
	// Retries are the extra attempts of a failing HTTPS POST inside one
	// send, Backoff the first wait (doubled after each).
	Retries int           `yaml:"retries"`
	Backoff time.Duration `yaml:"backoff"`

	// Sites forwarded; empty forwards every site with an enterprise code.
	Sites []string `yaml:"sites"`
	// Templates is the directory of the payload templates, one file per
	// kind: base.tmpl, realtime.tmpl, alarm.tmpl, heartbeat.tmpl.
	Templates string `yaml:"templates"`
	// Dest holds a destination template per kind: a URL for https, a topic
	// for mqtt. A kind with an empty destination is not sent.
	Dest map[string]string `yaml:"dest"`
	// Location is the time zone of the time helpers (default Asia/Shanghai).
	Location string `yaml:"location"`

	// Period is the real-time reporting period: each point's newest value of
	// every period is sent.
	Period time.Duration `yaml:"period"`
	// Delay is how long after a period's end its values are read, so
	// samples still in flight from the agents are in ClickHouse.
	Delay time.Duration `yaml:"delay"`
	// InitialBacklog is how far back a target's first start reaches.
	InitialBacklog time.Duration `yaml:"initial_backlog"`
	// BacklogRate is how many missed periods are sent per second beside the
	// live ones.
	BacklogRate float64 `yaml:"backlog_rate"`
	// MaxBacklogAge: older missed periods are given up as gaps.
	MaxBacklogAge time.Duration `yaml:"max_backlog_age"`
	// MaxValues is the most values in one real-time message.
	MaxValues int `yaml:"max_values"`
	// HeartbeatEvery and BaseEvery space heartbeats and base data.
	HeartbeatEvery time.Duration `yaml:"heartbeat_every"`
	BaseEvery      time.Duration `yaml:"base_every"`
	// RefreshEvery is how often the registry and the codes are read again;
	// changed base data is sent then.
	RefreshEvery time.Duration `yaml:"refresh_every"`

	// Encryption encrypts every payload (SM4, aggregator/forward/sm4);
	// absent: plain text.
	Encryption *sm4.Config `yaml:"encryption"`
}

// TLS configures the connection to the platform. CertFile and KeyFile are
// the client certificate some platforms require.
type TLS struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}

var targetName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// withDefaults fills what is unset.
func (t Target) withDefaults() Target {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&t.Timeout, 30*time.Second)
	def(&t.Backoff, time.Second)
	def(&t.Period, 30*time.Second)
	def(&t.Delay, 5*time.Second)
	def(&t.MaxBacklogAge, 7*24*time.Hour)
	def(&t.HeartbeatEvery, time.Minute)
	def(&t.BaseEvery, 24*time.Hour)
	def(&t.RefreshEvery, time.Minute)
	if t.BacklogRate == 0 {
		t.BacklogRate = 2
	}
	if t.MaxValues == 0 {
		t.MaxValues = 500
	}
	if t.Location == "" {
		t.Location = "Asia/Shanghai"
	}
	if t.Transport == "mqtt" {
		t.MQTT = mqttDefaults(t.MQTT, t)
	}
	if t.Encryption != nil {
		e, d := *t.Encryption, sm4.DefaultConfig()
		if e.Mode == "" {
			e.Mode = d.Mode
		}
		if e.Encoding == "" {
			e.Encoding = d.Encoding
		}
		t.Encryption = &e
	}
	return t
}

// Validate reports every problem, each naming its option.
func (c Config) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, t := range c.Targets {
		t = t.withDefaults()
		p := fmt.Sprintf("forward.targets[%d]", i)
		if !targetName.MatchString(t.Name) {
			errs = append(errs, fmt.Errorf("%s.name %q: want letters, digits, '_', '.', '-'", p, t.Name))
		} else if seen[t.Name] {
			errs = append(errs, fmt.Errorf("%s.name %q: used twice", p, t.Name))
		}
		seen[t.Name] = true
		errs = append(errs, t.validate(p))
	}
	return errors.Join(errs...)
}

func (t Target) validate(p string) error {
	var errs []error
	switch t.Transport {
	case "https":
		for k, d := range t.Dest {
			if d != "" && !strings.HasPrefix(d, "https://") && !strings.HasPrefix(d, "http://") {
				errs = append(errs, fmt.Errorf("%s.dest.%s %q: want an https:// URL template", p, k, d))
			}
		}
	case "mqtt":
		if err := t.MQTT.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s.mqtt: %w", p, err))
		}
	default:
		errs = append(errs, fmt.Errorf("%s.transport %q: want https or mqtt", p, t.Transport))
	}
	for k := range t.Dest {
		if !isKind(k) {
			errs = append(errs, fmt.Errorf("%s.dest.%s: unknown kind, want one of %s", p, k, strings.Join(Kinds, ", ")))
		}
	}
	if t.Templates == "" {
		errs = append(errs, fmt.Errorf("%s.templates: want the directory of the payload templates", p))
	}
	if _, err := time.LoadLocation(t.Location); err != nil {
		errs = append(errs, fmt.Errorf("%s.location %q: %w", p, t.Location, err))
	}
	if t.Period < 100*time.Millisecond || t.Delay < 0 || t.InitialBacklog < 0 || t.MaxBacklogAge <= 0 {
		errs = append(errs, fmt.Errorf("%s: want period >= 100ms, delay >= 0, initial_backlog >= 0 and max_backlog_age > 0", p))
	}
	if t.BacklogRate <= 0 || t.MaxValues < 1 || t.Retries < 0 || t.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("%s: want backlog_rate > 0, max_values >= 1, retries >= 0 and timeout > 0", p))
	}
	if t.HeartbeatEvery <= 0 || t.BaseEvery <= 0 || t.RefreshEvery <= 0 {
		errs = append(errs, fmt.Errorf("%s: want heartbeat_every, base_every and refresh_every > 0", p))
	}
	if (t.TLS.CertFile == "") != (t.TLS.KeyFile == "") {
		errs = append(errs, fmt.Errorf("%s.tls: cert_file and key_file go together", p))
	}
	if t.Encryption != nil {
		if err := t.Encryption.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s.encryption: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

func isKind(k string) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// mqttDefaults fills what an mqtt target leaves unset.
func mqttDefaults(c mqtt.Config, t Target) mqtt.Config {
	d := mqtt.DefaultConfig()
	if c.Version == 0 {
		c.Version = d.Version
	}
	if c.ClientID == "" {
		c.ClientID = "lifeline-" + t.Name
	}
	if (c.TLS == mqtt.TLS{}) {
		c.TLS = mqtt.TLS{CA: t.TLS.CAFile, Cert: t.TLS.CertFile, Key: t.TLS.KeyFile, ServerName: t.TLS.ServerName}
	}
	dur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	dur(&c.KeepAlive, d.KeepAlive)
	dur(&c.ConnectTimeout, d.ConnectTimeout)
	dur(&c.AckTimeout, d.AckTimeout)
	dur(&c.SessionExpiry, d.SessionExpiry)
	dur(&c.ReconnectMin, d.ReconnectMin)
	dur(&c.ReconnectMax, d.ReconnectMax)
	if c.MaxInflight == 0 {
		c.MaxInflight = d.MaxInflight
	}
	return c
}
