package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Validate reports every problem in the configuration, each naming the
// option at fault. It changes nothing.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if err := ValidateID(c.Site.ID); err != nil {
		add("site.id: %w", err)
	}
	if c.Site.Park == "" {
		add("site.park: must be set (the chemical park the site belongs to)")
	}
	if _, _, err := net.SplitHostPort(c.Aggregator.Address); err != nil {
		add("aggregator.address %q: want host:port", c.Aggregator.Address)
	}
	if !c.Aggregator.TLS.Insecure && (c.Aggregator.TLS.CAFile == "" || c.Aggregator.TLS.CertFile == "" || c.Aggregator.TLS.KeyFile == "") {
		add("aggregator.tls: ca_file, cert_file and key_file are required (or insecure: true for a link that stays on one machine)")
	}
	if c.Aggregator.ReconnectMin <= 0 || c.Aggregator.ReconnectMax < c.Aggregator.ReconnectMin {
		add("aggregator.reconnect_min/reconnect_max: want 0 < min <= max")
	}
	if !slices.Contains(Compressions, c.Aggregator.Compression) {
		add("aggregator.compression %q: want one of %s", c.Aggregator.Compression, strings.Join(Compressions, ", "))
	}
	if c.Aggregator.MaxInFlight < 1 || c.Aggregator.MaxInFlight > 1024 {
		add("aggregator.max_in_flight %d: want 1..1024", c.Aggregator.MaxInFlight)
	}
	if c.Aggregator.Keepalive <= 0 || c.Aggregator.KeepaliveTimeout <= 0 {
		add("aggregator.keepalive/keepalive_timeout: must be positive")
	}
	if !oneOf(strings.ToLower(c.Log.Level), "debug", "info", "warn", "error") {
		add("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	if !oneOf(c.Log.Format, "text", "json") {
		add("log.format %q: want text or json", c.Log.Format)
	}
	if c.Aggregator.StatusInterval < Duration(time.Second) || c.Aggregator.ShutdownDrain < 0 {
		add("aggregator.status_interval/shutdown_drain: want status_interval >= 1s and shutdown_drain >= 0")
	}
	if !oneOf(c.Buffer.Sync, "batch", "interval") {
		add("buffer.sync %q: want batch or interval", c.Buffer.Sync)
	}
	if c.Buffer.Sync == "interval" && (c.Buffer.SyncInterval <= 0 || c.Buffer.SyncInterval > Duration(time.Minute)) {
		add("buffer.sync_interval %s: want >0 and <=1m", c.Buffer.SyncInterval)
	}
	if c.Buffer.Dir == "" {
		add("buffer.dir: must be set")
	}
	if c.Buffer.MaxBytes < 1<<20 {
		add("buffer.max_bytes %d: want at least 1048576 (1 MiB)", c.Buffer.MaxBytes)
	}
	if c.Buffer.BatchSamples < 1 || c.Buffer.BatchSamples > MaxBatchSamples {
		add("buffer.batch_samples %d: want 1..%d", c.Buffer.BatchSamples, MaxBatchSamples)
	}
	if c.Buffer.BatchWait <= 0 || c.Buffer.BatchWait > Duration(10*time.Second) {
		add("buffer.batch_wait %s: want >0 and <=10s", c.Buffer.BatchWait)
	}

	hazards := map[string]bool{}
	for i, h := range c.HazardSources {
		where := fmt.Sprintf("hazard_sources[%d]", i)
		if h.Code == "" {
			add("%s.code: must be set", where)
		}
		if hazards[h.Code] {
			add("%s.code %q: duplicate", where, h.Code)
		}
		hazards[h.Code] = true
		if h.Level < 1 || h.Level > 4 {
			add("%s.level %d: want 1..4 (GB 18218)", where, h.Level)
		}
	}

	if len(c.Sources) == 0 {
		add("sources: at least one OPC UA source is required")
	}
	names := map[string]bool{}
	points := map[string]string{}
	for i, s := range c.Sources {
		where := fmt.Sprintf("sources[%d]", i)
		if s.Name == "" {
			add("%s.name: must be set", where)
		} else {
			where = fmt.Sprintf("sources[%s]", s.Name)
		}
		if names[s.Name] {
			add("%s.name: duplicate", where)
		}
		names[s.Name] = true
		if u, err := url.Parse(s.Endpoint); err != nil || u.Scheme != "opc.tcp" || u.Host == "" {
			add("%s.endpoint %q: want opc.tcp://host:port[/path]", where, s.Endpoint)
		}
		if !oneOf(s.SecurityPolicy, "None", "Basic256Sha256", "Aes128_Sha256_RsaOaep") {
			add("%s.security_policy %q: want None, Basic256Sha256 or Aes128_Sha256_RsaOaep", where, s.SecurityPolicy)
		}
		if !oneOf(s.SecurityMode, "None", "Sign", "SignAndEncrypt") {
			add("%s.security_mode %q: want None, Sign or SignAndEncrypt", where, s.SecurityMode)
		}
		if (s.SecurityPolicy == "None") != (s.SecurityMode == "None") {
			add("%s: security_policy None goes with security_mode None only", where)
		}
		if s.SamplingInterval < 0 || s.PublishingInterval <= 0 {
			add("%s.sampling_interval/publishing_interval: want >= 0 and > 0", where)
		}
		if s.ReconnectMin <= 0 || s.ReconnectMax < s.ReconnectMin {
			add("%s.reconnect_min/reconnect_max: want 0 < min <= max", where)
		}
		if s.FrozenAfter < 0 {
			add("%s.frozen_after %s: want >= 0 (0 is off)", where, s.FrozenAfter)
		}
		switch s.Auth {
		case "anonymous":
		case "username":
			if s.Username == "" || (s.Password == "") == (s.PasswordFile == "") {
				add("%s: auth username needs username and one of password or password_file", where)
			}
		case "certificate":
			if s.UserCertFile == "" || s.UserKeyFile == "" {
				add("%s: auth certificate needs user_cert_file and user_key_file", where)
			}
		default:
			add("%s.auth %q: want anonymous, username or certificate", where, s.Auth)
		}
		if s.PKIDir == "" && (s.SecurityPolicy != "None" || s.Auth == "certificate") {
			add("%s.pki_dir: must be set for a secure channel or a certificate user token", where)
		}
		if !oneOf(s.ReadMode, "subscribe", "poll") {
			add("%s.read_mode %q: want subscribe or poll", where, s.ReadMode)
		}
		if s.ReadMode == "poll" && s.PollInterval < Duration(10*time.Millisecond) {
			add("%s.poll_interval %s: want at least 10ms", where, s.PollInterval)
		}
		if len(s.Points) == 0 {
			add("%s.points: at least one point is required", where)
		}
		for j, p := range s.Points {
			pw := fmt.Sprintf("%s.points[%d]", where, j)
			if err := ValidateID(p.ID); err != nil {
				add("%s.id: %w", pw, err)
			} else {
				pw = fmt.Sprintf("%s.points[%s]", where, p.ID)
			}
			if prev, ok := points[p.ID]; ok && p.ID != "" {
				add("%s.id: duplicate of a point in %s", pw, prev)
			}
			points[p.ID] = where
			if err := ValidateNodeID(p.Node); err != nil {
				add("%s.node: %w", pw, err)
			}
			if p.Kind != "" && !oneOf(p.Kind, Kinds...) {
				add("%s.kind %q: want one of %s", pw, p.Kind, strings.Join(Kinds, ", "))
			}
			if p.HazardSource != "" && !hazards[p.HazardSource] {
				add("%s.hazard_source %q: not listed in hazard_sources", pw, p.HazardSource)
			}
			if p.Range != nil && !(p.Range.Low < p.Range.High) {
				add("%s.range: want low < high, got %g..%g", pw, p.Range.Low, p.Range.High)
			}
			if p.Limits != nil {
				if err := p.Limits.validate(); err != nil {
					add("%s.limits: %w", pw, err)
				}
			}
			if p.SamplingInterval < 0 {
				add("%s.sampling_interval: want >= 0", pw)
			}
			if d := p.Deadband; d != nil {
				if !oneOf(d.Type, "absolute", "percent") {
					add("%s.deadband.type %q: want absolute or percent", pw, d.Type)
				}
				if !(d.Value >= 0) || math.IsInf(d.Value, 0) || (d.Type == "percent" && d.Value > 100) {
					add("%s.deadband.value %g: want >= 0 (percent: 0..100)", pw, d.Value)
				}
			}
			for field, text := range map[string]string{"name": p.Name, "description": p.Description, "unit": p.Unit, "equipment": p.Equipment} {
				if !utf8.ValidString(text) {
					add("%s.%s: invalid UTF-8", pw, field)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// MaxBatchSamples is the largest batch the protocol carries.
const MaxBatchSamples = 50000

// Validate checks the limits on their own: finite, ordered ll <= l <= h
// <= hh and stage1 <= stage2, deadband >= 0.
func (l Limits) Validate() error { return l.validate() }

func (l Limits) validate() error {
	vals := []*float64{l.LowLow, l.Low, l.High, l.HighHigh, l.Stage1, l.Stage2}
	for _, v := range vals {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			return errors.New("limits must be finite numbers")
		}
	}
	ordered := []*float64{l.LowLow, l.Low, l.High, l.HighHigh}
	var prev *float64
	for _, v := range ordered {
		if v == nil {
			continue
		}
		if prev != nil && *v < *prev {
			return errors.New("want ll <= l <= h <= hh")
		}
		prev = v
	}
	if l.Stage1 != nil && l.Stage2 != nil && *l.Stage2 < *l.Stage1 {
		return errors.New("want stage1 <= stage2")
	}
	if l.Deadband < 0 || math.IsNaN(l.Deadband) {
		return errors.New("deadband must be >= 0")
	}
	return nil
}

// ValidateID checks a site or point ID: 1–64 printable characters with no
// spaces, so IDs stay usable in file names, URLs and dashboards.
func ValidateID(id string) error {
	if id == "" {
		return errors.New("must be set")
	}
	if len(id) > 64 {
		return fmt.Errorf("%q is longer than 64 bytes", id)
	}
	if !utf8.ValidString(id) {
		return errors.New("invalid UTF-8")
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f || r == '/' || r == '\\' || r == '"' || r == '\'' {
			return fmt.Errorf("%q: no spaces, quotes, slashes or control characters", id)
		}
	}
	return nil
}

// ValidateNodeID checks that a node ID names its namespace by URI (nsu=…),
// since namespace indexes may change when a server restarts. Namespace 0
// (the OPC UA namespace, e.g. i=2258) needs no URI.
func ValidateNodeID(node string) error {
	if node == "" {
		return errors.New("must be set, e.g. nsu=urn:vendor:server;s=Tank1.Level")
	}
	if strings.HasPrefix(node, "ns=") {
		return fmt.Errorf("%q uses a namespace index; write the namespace URI instead (nsu=…;s=…), indexes can change when the server restarts", node)
	}
	if strings.HasPrefix(node, "nsu=") {
		semi := strings.Index(node, ";")
		if semi < 0 || semi == len("nsu=") {
			return fmt.Errorf("%q: want nsu=URI;s=… (or i=, g=, b=)", node)
		}
		node = node[semi+1:]
	}
	if len(node) < 3 || node[1] != '=' || !strings.ContainsRune("sigb", rune(node[0])) {
		return fmt.Errorf("%q: identifier must be s=, i=, g= or b=", node)
	}
	return nil
}

func oneOf(s string, options ...string) bool {
	for _, o := range options {
		if s == o {
			return true
		}
	}
	return false
}
