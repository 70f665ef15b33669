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
func (c Config) Validate() error { return c.ValidateFor(All) }

// ValidateFor reports every problem in the sections given (and the log
// section, which every command uses), each naming the option at fault.
func (c Config) ValidateFor(uses Sections) error {
	errs := []error{c.Log.Validate()}
	if uses&SiteSection != 0 {
		errs = append(errs, c.Site.validate())
	}
	if uses&AggregatorSection != 0 {
		errs = append(errs, c.Aggregator.validate())
	}
	if uses&MetricsSection != 0 {
		errs = append(errs, c.Metrics.Validate())
	}
	if uses&StatusPageSection != 0 {
		errs = append(errs, c.StatusPage.validate())
	}
	if uses&BufferSection != 0 {
		errs = append(errs, c.Buffer.validate())
	}
	switch {
	case uses&SourcesSection != 0:
		hazards, hazardErr := validateHazardSources(c.HazardSources)
		errs = append(errs, hazardErr, validateSources(c.Sources, hazards, true))
	case uses&ConnectionsSection != 0:
		errs = append(errs, validateSources(c.Sources, nil, false))
	}
	return errors.Join(errs...)
}

// problems gathers a section's errors so that every one is reported.
type problems []error

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

func (p problems) join() error { return errors.Join(p...) }

func (s Site) validate() error {
	var p problems
	if err := ValidateID(s.ID); err != nil {
		p.add("site.id: %w", err)
	}
	if s.Park == "" {
		p.add("site.park: must be set (the chemical park the site belongs to)")
	}
	return p.join()
}

func (s StatusPage) validate() error {
	if s.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(s.Listen); err != nil {
		return fmt.Errorf("status_page.listen %q: want host:port or empty", s.Listen)
	}
	if loopback(s.Listen) || s.AllowRemote {
		return nil
	}
	return fmt.Errorf("status_page.listen %q: the page has no login, so it listens on loopback (127.0.0.1) unless status_page.allow_remote is true", s.Listen)
}

// loopback reports whether a listen address binds this machine only; an
// empty host or a name other than localhost may mean every interface.
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

func (a Aggregator) validate() error {
	var p problems
	for _, addr := range a.Targets() {
		if host, _, err := net.SplitHostPort(addr); err != nil || host == "" {
			p.add("aggregator.address %q: want host:port", addr)
		}
	}
	if a.AckTimeout < 0 || a.PreferredProbe < 0 || a.PreferredProbes < 1 {
		p.add("aggregator.ack_timeout/preferred_probe: must not be negative; preferred_probes: want >= 1")
	}
	if !a.TLS.Insecure && (a.TLS.CAFile == "" || a.TLS.CertFile == "" || a.TLS.KeyFile == "") {
		p.add("aggregator.tls: ca_file, cert_file and key_file are required (or insecure: true for a link that stays on one machine)")
	}
	if a.ReconnectMin <= 0 || a.ReconnectMax < a.ReconnectMin {
		p.add("aggregator.reconnect_min/reconnect_max: want 0 < min <= max")
	}
	if !slices.Contains(Compressions, a.Compression) {
		p.add("aggregator.compression %q: want one of %s", a.Compression, strings.Join(Compressions, ", "))
	}
	if a.MaxInFlight < 1 || a.MaxInFlight > 1024 {
		p.add("aggregator.max_in_flight %d: want 1..1024", a.MaxInFlight)
	}
	if a.Keepalive <= 0 || a.KeepaliveTimeout <= 0 {
		p.add("aggregator.keepalive/keepalive_timeout: must be positive")
	}
	if a.StatusInterval < Duration(time.Second) || a.ShutdownDrain < 0 {
		p.add("aggregator.status_interval/shutdown_drain: want status_interval >= 1s and shutdown_drain >= 0")
	}
	return p.join()
}

func (b Buffer) validate() error {
	var p problems
	if !oneOf(b.Sync, "batch", "interval") {
		p.add("buffer.sync %q: want batch or interval", b.Sync)
	}
	if b.Sync == "interval" && (b.SyncInterval <= 0 || b.SyncInterval > Duration(time.Minute)) {
		p.add("buffer.sync_interval %s: want >0 and <=1m", b.SyncInterval)
	}
	if b.Dir == "" {
		p.add("buffer.dir: must be set")
	}
	if b.MinFreeBytes < 0 {
		p.add("buffer.min_free_bytes %d: want 0 (no floor) or more", b.MinFreeBytes)
	}
	if b.MemoryBytes < 1<<20 {
		p.add("buffer.memory_bytes %d: want at least 1048576 (1 MiB)", b.MemoryBytes)
	}
	if b.MaxBytes < 1<<20 {
		p.add("buffer.max_bytes %d: want at least 1048576 (1 MiB)", b.MaxBytes)
	}
	if b.BatchSamples < 1 || b.BatchSamples > MaxBatchSamples {
		p.add("buffer.batch_samples %d: want 1..%d", b.BatchSamples, MaxBatchSamples)
	}
	if b.BatchWait <= 0 || b.BatchWait > Duration(10*time.Second) {
		p.add("buffer.batch_wait %s: want >0 and <=10s", b.BatchWait)
	}
	return p.join()
}

// validateHazardSources checks the hazard sources and returns the set of
// their codes, which points refer to.
func validateHazardSources(hs []HazardSource) (map[string]bool, error) {
	var p problems
	codes := map[string]bool{}
	for i, h := range hs {
		where := fmt.Sprintf("hazard_sources[%d]", i)
		if h.Code == "" {
			p.add("%s.code: must be set", where)
		}
		if codes[h.Code] {
			p.add("%s.code %q: duplicate", where, h.Code)
		}
		codes[h.Code] = true
		if h.Level < 1 || h.Level > 4 {
			p.add("%s.level %d: want 1..4 (GB 18218)", where, h.Level)
		}
	}
	return codes, p.join()
}

// validateSources checks every source and, withPoints, its points;
// source names and point IDs must be unique across all sources.
func validateSources(sources []Source, hazards map[string]bool, withPoints bool) error {
	var p problems
	if len(sources) == 0 {
		p.add("sources: at least one OPC UA source is required")
	}
	names := map[string]bool{}
	points := map[string]string{}
	for i, s := range sources {
		where := fmt.Sprintf("sources[%d]", i)
		if s.Name == "" {
			p.add("%s.name: must be set", where)
		} else {
			where = fmt.Sprintf("sources[%s]", s.Name)
		}
		if names[s.Name] {
			p.add("%s.name: duplicate", where)
		}
		names[s.Name] = true
		p = append(p, s.validate(where, withPoints))
		if !withPoints {
			continue
		}
		for j, pt := range s.Points {
			pw := fmt.Sprintf("%s.points[%d]", where, j)
			if err := ValidateID(pt.ID); err != nil {
				p.add("%s.id: %w", pw, err)
			} else {
				pw = fmt.Sprintf("%s.points[%s]", where, pt.ID)
			}
			if prev, ok := points[pt.ID]; ok && pt.ID != "" {
				p.add("%s.id: duplicate of a point in %s", pw, prev)
			}
			points[pt.ID] = where
			p = append(p, pt.validate(pw, hazards))
		}
	}
	return p.join()
}

// validate checks one source's connection, security, identity and read
// mode, and that it has points if withPoints; where names it in messages.
func (s Source) validate(where string, withPoints bool) error {
	var p problems
	if u, err := url.Parse(s.Endpoint); err != nil || u.Scheme != "opc.tcp" || u.Host == "" {
		p.add("%s.endpoint %q: want opc.tcp://host:port[/path]", where, s.Endpoint)
	}
	if !oneOf(s.SecurityPolicy, "None", "Basic256Sha256", "Aes128_Sha256_RsaOaep") {
		p.add("%s.security_policy %q: want None, Basic256Sha256 or Aes128_Sha256_RsaOaep", where, s.SecurityPolicy)
	}
	if !oneOf(s.SecurityMode, "None", "Sign", "SignAndEncrypt") {
		p.add("%s.security_mode %q: want None, Sign or SignAndEncrypt", where, s.SecurityMode)
	}
	if (s.SecurityPolicy == "None") != (s.SecurityMode == "None") {
		p.add("%s: security_policy None goes with security_mode None only", where)
	}
	if s.SamplingInterval < 0 || s.PublishingInterval <= 0 {
		p.add("%s.sampling_interval/publishing_interval: want >= 0 and > 0", where)
	}
	if s.ReconnectMin <= 0 || s.ReconnectMax < s.ReconnectMin {
		p.add("%s.reconnect_min/reconnect_max: want 0 < min <= max", where)
	}
	if s.FrozenAfter < 0 {
		p.add("%s.frozen_after %s: want >= 0 (0 is off)", where, s.FrozenAfter)
	}
	p = append(p, s.validateAuth(where))
	if !oneOf(s.HistoryBackfill, "auto", "off") {
		p.add("%s.history_backfill %q: want auto or off", where, s.HistoryBackfill)
	}
	if s.HistoryMaxWindow < Duration(time.Second) {
		p.add("%s.history_max_window %s: want at least 1s", where, s.HistoryMaxWindow)
	}
	for _, n := range s.Events.Notifiers {
		if err := ValidateNodeID(n); err != nil {
			p.add("%s.events.notifiers: %v", where, err)
		}
	}
	if !oneOf(s.ReadMode, "subscribe", "poll") {
		p.add("%s.read_mode %q: want subscribe or poll", where, s.ReadMode)
	}
	if s.ReadMode == "poll" && s.PollInterval < Duration(10*time.Millisecond) {
		p.add("%s.poll_interval %s: want at least 10ms", where, s.PollInterval)
	}
	if withPoints && len(s.Points) == 0 {
		p.add("%s.points: at least one point is required", where)
	}
	return p.join()
}

// validateAuth checks the user identity and the PKI directory it needs.
func (s Source) validateAuth(where string) error {
	var p problems
	switch s.Auth {
	case "anonymous":
	case "username":
		given := 0
		for _, v := range []string{s.Password, s.PasswordFile, s.PasswordEnv} {
			if v != "" {
				given++
			}
		}
		if s.Username == "" || given != 1 {
			p.add("%s: auth username needs username and one of password, password_file or password_env", where)
		}
	case "certificate":
		if s.UserCertFile == "" || s.UserKeyFile == "" {
			p.add("%s: auth certificate needs user_cert_file and user_key_file", where)
		}
	default:
		p.add("%s.auth %q: want anonymous, username or certificate", where, s.Auth)
	}
	if s.PKIDir == "" && (s.SecurityPolicy != "None" || s.Auth == "certificate") {
		p.add("%s.pki_dir: must be set for a secure channel or a certificate user token", where)
	}
	return p.join()
}

// validate checks one point's own fields (its ID is checked by the
// caller, which knows the other points); pw names it in messages.
func (pt Point) validate(pw string, hazards map[string]bool) error {
	var p problems
	if err := ValidateNodeID(pt.Node); err != nil {
		p.add("%s.node: %w", pw, err)
	}
	if pt.Kind != "" && !oneOf(pt.Kind, Kinds...) {
		p.add("%s.kind %q: want one of %s", pw, pt.Kind, strings.Join(Kinds, ", "))
	}
	if pt.HazardSource != "" && !hazards[pt.HazardSource] {
		p.add("%s.hazard_source %q: not listed in hazard_sources", pw, pt.HazardSource)
	}
	if pt.Range != nil && !(pt.Range.Low < pt.Range.High) {
		p.add("%s.range: want low < high, got %g..%g", pw, pt.Range.Low, pt.Range.High)
	}
	if pt.Limits != nil {
		if err := pt.Limits.validate(); err != nil {
			p.add("%s.limits: %w", pw, err)
		}
	}
	if pt.SamplingInterval < 0 {
		p.add("%s.sampling_interval: want >= 0", pw)
	}
	if d := pt.Deadband; d != nil {
		if !oneOf(d.Type, "absolute", "percent") {
			p.add("%s.deadband.type %q: want absolute or percent", pw, d.Type)
		}
		if !(d.Value >= 0) || math.IsInf(d.Value, 0) || (d.Type == "percent" && d.Value > 100) {
			p.add("%s.deadband.value %g: want >= 0 (percent: 0..100)", pw, d.Value)
		}
	}
	for field, text := range map[string]string{"name": pt.Name, "description": pt.Description, "unit": pt.Unit, "equipment": pt.Equipment} {
		if !utf8.ValidString(text) {
			p.add("%s.%s: invalid UTF-8", pw, field)
		}
	}
	return p.join()
}

// MaxBatchSamples is the largest batch the protocol carries.
const MaxBatchSamples = 50000

// Validate checks the limits on their own: finite, ordered ll <= l <= h
// <= hh and stage1 <= stage2, deadband and delays >= 0.
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
	if l.OnDelay != nil && *l.OnDelay < 0 || l.OffDelay != nil && *l.OffDelay < 0 {
		return errors.New("on_delay and off_delay must be >= 0s")
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
