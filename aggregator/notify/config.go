package notify

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/notify/channel"
)

// Config is the notify section of the aggregator's configuration.
type Config struct {
	Enabled bool `yaml:"enabled"`
	// Name keys the durable read position and this notifier's flood
	// summaries; aggregators sharing one database need different names.
	// Empty: the aggregator's node id.
	Name string        `yaml:"name"`
	Poll time.Duration `yaml:"poll"`
	// OwnedParks, when set, limits this aggregator to the alarms of these
	// parks, whoever owns their sites; empty: the sites it owns.
	OwnedParks []string `yaml:"owned_parks"`
	// EscalationHorizon is how long after its raise an active alarm is
	// still escalated.
	EscalationHorizon time.Duration        `yaml:"escalation_horizon"`
	Flood             Flood                `yaml:"flood"`
	Retry             Retry                `yaml:"retry"`
	SMTP              SMTP                 `yaml:"smtp"`
	Recipients        map[string]Recipient `yaml:"recipients"`
	Rules             []Rule               `yaml:"rules"`
}

// Flood is the ISA-18.2 flood threshold: more than Limit notifications to
// one recipient within Window are summarised.
type Flood struct {
	Limit  int           `yaml:"limit"`
	Window time.Duration `yaml:"window"`
}

// Retry says how often a failed delivery is tried again.
type Retry struct {
	MaxAttempts int           `yaml:"max_attempts"`
	Backoff     time.Duration `yaml:"backoff"` // doubled per attempt, at most 1h
}

// SMTP is the mail server for e-mail recipients.
type SMTP struct {
	Addr         string        `yaml:"addr"`
	TLS          string        `yaml:"tls"` // starttls, implicit or none
	Username     string        `yaml:"username"`
	Password     string        `yaml:"password"`
	PasswordFile string        `yaml:"password_file"`
	From         string        `yaml:"from"`
	Timeout      time.Duration `yaml:"timeout"`
}

// Recipient types.
const (
	TypeWebhook  = "webhook"
	TypeDingTalk = "dingtalk"
	TypeWeCom    = "wecom"
	TypeFeishu   = "feishu"
	TypeEmail    = "email"
)

// Recipient is one destination: a robot, a webhook or mail addresses.
type Recipient struct {
	Type   string   `yaml:"type"`
	URL    string   `yaml:"url"`
	Secret string   `yaml:"secret"` // DingTalk and Feishu signing secret
	Format string   `yaml:"format"` // text or markdown
	To     []string `yaml:"to"`     // email
}

// Rule routes the alarms it matches through its escalation steps.
type Rule struct {
	Name  string `yaml:"name"`
	Match Match  `yaml:"match"`
	Steps []Step `yaml:"steps"`
}

// Match selects alarms; an empty list matches everything, lists are
// ANDed, entries within a list ORed.
type Match struct {
	Parks      []string `yaml:"parks"`
	Sites      []string `yaml:"sites"`   // enterprise site ids
	Hazards    []string `yaml:"hazards"` // hazard source codes
	Kinds      []string `yaml:"kinds"`
	Conditions []string `yaml:"conditions"`
	Priorities []uint8  `yaml:"priorities"`
}

// Step notifies its recipients After the raise, when the alarm is then
// still active and unacknowledged (the first step: whatever its state).
type Step struct {
	After      time.Duration `yaml:"after"`
	Recipients []string      `yaml:"recipients"`
}

// DefaultConfig returns the notify defaults (disabled).
func DefaultConfig() Config {
	return Config{Poll: 5 * time.Second, EscalationHorizon: 24 * time.Hour,
		Flood: Flood{Limit: 10, Window: 10 * time.Minute}, Retry: Retry{MaxAttempts: 10, Backoff: 30 * time.Second},
		SMTP: SMTP{TLS: channel.TLSStartTLS, Timeout: 30 * time.Second}}
}

// Validate reports every problem, each naming its option; a disabled
// section is not checked.
func (c Config) Validate() error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Poll <= 0 || c.EscalationHorizon <= 0 {
		bad("poll and escalation_horizon: must be positive")
	}
	if c.Flood.Limit < 1 || c.Flood.Window <= 0 {
		bad("flood: want limit >= 1 and window > 0")
	}
	if c.Retry.MaxAttempts < 1 || c.Retry.Backoff <= 0 {
		bad("retry: want max_attempts >= 1 and backoff > 0")
	}
	mail := false
	for _, name := range sortedKeys(c.Recipients) {
		r := c.Recipients[name]
		mail = mail || r.Type == TypeEmail
		if err := r.validate(); err != nil {
			bad("recipients.%s: %w", name, err)
		}
	}
	if mail {
		errs = append(errs, c.SMTP.validate())
	}
	if len(c.Rules) == 0 {
		bad("rules: at least one rule is needed")
	}
	for i, r := range c.Rules {
		errs = append(errs, r.validate(i, c.Recipients))
	}
	return errors.Join(errs...)
}

func (r Recipient) validate() error {
	switch r.Type {
	case TypeEmail:
		if len(r.To) == 0 {
			return errors.New("email: to must list at least one address")
		}
		return nil
	case TypeWebhook, TypeDingTalk, TypeWeCom, TypeFeishu:
	default:
		return fmt.Errorf("type %q: want webhook, dingtalk, wecom, feishu or email", r.Type)
	}
	if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("url %q: want an http(s) URL", r.URL)
	}
	if r.Format != "" && r.Format != channel.FormatText && r.Format != channel.FormatMarkdown {
		return fmt.Errorf("format %q: want text or markdown", r.Format)
	}
	if r.Secret != "" && r.Type != TypeDingTalk && r.Type != TypeFeishu {
		return fmt.Errorf("secret: only dingtalk and feishu sign requests")
	}
	return nil
}

func (s SMTP) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(s.Addr); err != nil {
		errs = append(errs, fmt.Errorf("smtp.addr %q: want host:port", s.Addr))
	}
	switch s.TLS {
	case channel.TLSStartTLS, channel.TLSImplicit:
	case channel.TLSNone:
		if s.Username != "" {
			errs = append(errs, errors.New("smtp.tls none: no password is sent without TLS; drop username or use starttls/implicit"))
		}
	default:
		errs = append(errs, fmt.Errorf("smtp.tls %q: want starttls, implicit or none", s.TLS))
	}
	if s.From == "" {
		errs = append(errs, errors.New("smtp.from: must not be empty"))
	}
	return errors.Join(errs...)
}

func (r Rule) validate(i int, recipients map[string]Recipient) error {
	name := fmt.Sprintf("rules[%d]", i)
	if r.Name != "" {
		name = fmt.Sprintf("rules[%d] (%s)", i, r.Name)
	}
	var errs []error
	if len(r.Steps) == 0 || len(r.Steps) > 16 {
		errs = append(errs, fmt.Errorf("%s.steps: want 1 to 16 steps", name))
	}
	for j, st := range r.Steps {
		if st.After < 0 || (j > 0 && st.After <= r.Steps[j-1].After) {
			errs = append(errs, fmt.Errorf("%s.steps[%d].after: want >= 0 and later than the step before", name, j))
		}
		if len(st.Recipients) == 0 {
			errs = append(errs, fmt.Errorf("%s.steps[%d].recipients: must not be empty", name, j))
		}
		for _, rc := range st.Recipients {
			if _, ok := recipients[rc]; !ok {
				errs = append(errs, fmt.Errorf("%s.steps[%d].recipients: unknown recipient %q", name, j, rc))
			}
		}
	}
	for _, p := range r.Match.Priorities {
		if p < 1 || p > 3 {
			errs = append(errs, fmt.Errorf("%s.match.priorities: %d: want 1 (high), 2 or 3 (low)", name, p))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
