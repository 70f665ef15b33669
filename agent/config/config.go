// Package config defines the agent's configuration file: the site, the
// aggregator to send to, the buffer, and the OPC UA sources with their points.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Config is the whole agent configuration.
type Config struct {
	Site          Site           `yaml:"site"`
	Aggregator    Aggregator     `yaml:"aggregator"`
	Buffer        Buffer         `yaml:"buffer"`
	HazardSources []HazardSource `yaml:"hazard_sources,omitempty"`
	Sources       []Source       `yaml:"sources"`
	Metrics       Metrics        `yaml:"metrics"`
	Log           Log            `yaml:"log"`
}

// Site identifies the enterprise (plant) this agent reports for.
type Site struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name,omitempty"`
	Park string `yaml:"park"`
}

// Aggregator is where samples go.
type Aggregator struct {
	Address string `yaml:"address"`
	TLS     TLS    `yaml:"tls"`
	// ReconnectMin and ReconnectMax bound the jittered exponential backoff
	// between connection attempts.
	ReconnectMin Duration `yaml:"reconnect_min"`
	ReconnectMax Duration `yaml:"reconnect_max"`
	// Keepalive is how often an idle link is probed; a link that does not
	// answer within KeepaliveTimeout is treated as dead.
	Keepalive        Duration `yaml:"keepalive"`
	KeepaliveTimeout Duration `yaml:"keepalive_timeout"`
	// MaxInFlight is how many batches may await an ack at once, live and
	// backlog each (a drain runs beside live data, never ahead of it).
	MaxInFlight int `yaml:"max_in_flight"`
	// StatusInterval is how often the agent reports its backlog and
	// sources to the aggregator.
	StatusInterval Duration `yaml:"status_interval"`
	// ShutdownDrain is how long a stopping agent waits for the aggregator
	// to ack what it has buffered; the rest stays on disk for next time.
	ShutdownDrain Duration `yaml:"shutdown_drain"`
	// Compression of the stream to the aggregator: "zstd" or "none".
	Compression string `yaml:"compression"`
}

// Compressions lists the accepted aggregator.compression values.
var Compressions = []string{"zstd", "none"}

// TLS configures the agent's side of mutual TLS. Insecure sends in plain
// text and is meant only for a link that never leaves one machine.
type TLS struct {
	Insecure   bool   `yaml:"insecure,omitempty"`
	CAFile     string `yaml:"ca_file,omitempty"`
	CertFile   string `yaml:"cert_file,omitempty"`
	KeyFile    string `yaml:"key_file,omitempty"`
	ServerName string `yaml:"server_name,omitempty"`
}

// Buffer configures the on-disk queue between OPC UA and the uplink.
type Buffer struct {
	Dir      string `yaml:"dir"`
	MaxBytes int64  `yaml:"max_bytes"`
	// BatchSamples and BatchWait bound a batch: it is written to disk when
	// it holds BatchSamples samples or its first sample is BatchWait old.
	BatchSamples int      `yaml:"batch_samples"`
	BatchWait    Duration `yaml:"batch_wait"`
	// Sync is when writes reach the disk: "batch" fsyncs every batch
	// before it counts as buffered, so a power cut loses at most the batch
	// being gathered (batch_wait); "interval" fsyncs every sync_interval,
	// cheaper on slow disks, and a power cut may lose that much more. A
	// crash of the agent alone loses nothing written in either mode.
	Sync         string   `yaml:"sync"`
	SyncInterval Duration `yaml:"sync_interval"`
	// MinFreeBytes is the free space the buffer leaves on its disk: below
	// it new batches are held in memory, up to MemoryBytes, and sent from
	// there; what does not fit is dropped and recorded as a disk_full gap.
	// 0 turns the floor off.
	MinFreeBytes int64 `yaml:"min_free_bytes"`
	MemoryBytes  int64 `yaml:"memory_bytes"`
}

// HazardSource is a major hazard source (危险化学品重大危险源) per GB 18218.
type HazardSource struct {
	Code  string `yaml:"code"`
	Name  string `yaml:"name"`
	Level int    `yaml:"level"`
}

// Source is one OPC UA server and the points read from it.
type Source struct {
	Name     string `yaml:"name"`
	Endpoint string `yaml:"endpoint"`
	// SecurityPolicy is None, Basic256Sha256 or Aes128_Sha256_RsaOaep;
	// SecurityMode is None, Sign or SignAndEncrypt.
	SecurityPolicy     string   `yaml:"security_policy"`
	SecurityMode       string   `yaml:"security_mode"`
	SamplingInterval   Duration `yaml:"sampling_interval"`
	PublishingInterval Duration `yaml:"publishing_interval"`
	// QueueSize is the server-side queue per monitored item: large enough
	// that changes faster than the publishing interval are not coalesced.
	QueueSize uint32 `yaml:"queue_size"`
	// FrozenAfter reports a point as "good but frozen" to the aggregator
	// when its value has not changed for this long; 0 turns it off (a
	// steady tank level is not a fault everywhere).
	FrozenAfter  Duration `yaml:"frozen_after"`
	ReconnectMin Duration `yaml:"reconnect_min"`
	ReconnectMax Duration `yaml:"reconnect_max"`
	// PKIDir holds the agent's application instance certificate and the
	// trusted and rejected server certificates (own/, trusted/,
	// rejected/); it is used when SecurityPolicy is not None or when the
	// user token is a certificate.
	PKIDir string `yaml:"pki_dir"`
	// Auth is the user identity: anonymous, username (Username with
	// Password or PasswordFile) or certificate (UserCertFile and
	// UserKeyFile).
	Auth         string `yaml:"auth"`
	Username     string `yaml:"username,omitempty"`
	Password     string `yaml:"password,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty"`
	UserCertFile string `yaml:"user_cert_file,omitempty"`
	UserKeyFile  string `yaml:"user_key_file,omitempty"`
	// ReadMode is subscribe (monitored items) or poll (cyclic Read every
	// PollInterval, for servers whose subscriptions cannot be relied on).
	ReadMode     string   `yaml:"read_mode"`
	PollInterval Duration `yaml:"poll_interval"`
	Points       []Point  `yaml:"points"`
}

// DefaultPKIDir is where the agent keeps its OPC UA certificates unless a
// source says otherwise.
const DefaultPKIDir = "/var/lib/lifeline-agent/pki"

// Point is one monitored variable (位号).
type Point struct {
	ID           string  `yaml:"id"`
	Name         string  `yaml:"name,omitempty"`
	Description  string  `yaml:"description,omitempty"`
	Unit         string  `yaml:"unit,omitempty"`
	Kind         string  `yaml:"kind,omitempty"`
	Node         string  `yaml:"node"`
	Range        *Range  `yaml:"range,omitempty"`
	Limits       *Limits `yaml:"limits,omitempty"`
	HazardSource string  `yaml:"hazard_source,omitempty"`
	Equipment    string  `yaml:"equipment,omitempty"`
	OutOfService bool    `yaml:"out_of_service,omitempty"`
	// SamplingInterval overrides the source's sampling interval for this
	// point; Deadband filters changes on the server (subscribe mode).
	SamplingInterval Duration      `yaml:"sampling_interval,omitempty"`
	Deadband         *DataDeadband `yaml:"deadband,omitempty"`
}

// DataDeadband is an OPC UA data change filter: a change smaller than
// Value is not reported. Type absolute compares in the point's unit;
// percent compares in percent of the node's EURange (the server must
// expose one).
type DataDeadband struct {
	Type  string  `yaml:"type"`
	Value float64 `yaml:"value"`
}

// Range is the instrument's measuring range.
type Range struct {
	Low  float64 `yaml:"low"`
	High float64 `yaml:"high"`
}

// Limits are alarm limits: LL/L/H/HH for analog points, first and second
// stage (一级/二级) for gas detectors.
type Limits struct {
	LowLow   *float64 `yaml:"ll,omitempty"`
	Low      *float64 `yaml:"l,omitempty"`
	High     *float64 `yaml:"h,omitempty"`
	HighHigh *float64 `yaml:"hh,omitempty"`
	Stage1   *float64 `yaml:"stage1,omitempty"`
	Stage2   *float64 `yaml:"stage2,omitempty"`
	Deadband float64  `yaml:"deadband,omitempty"`
}

// Metrics configures the Prometheus endpoint; an empty Listen disables it.
type Metrics struct {
	Listen string `yaml:"listen"`
	// Pprof adds Go's /debug/pprof handlers to the same listener, for
	// diagnosing memory and CPU on a plant's PC; keep the listener on
	// loopback when it is on.
	Pprof bool `yaml:"pprof"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Kinds lists the point kinds the agent accepts.
var Kinds = []string{"level", "temperature", "pressure", "flow", "gas_combustible", "gas_toxic", "gas_oxygen", "switch", "analog", "status"}

// Default returns a configuration with every default filled in. It is the
// one place defaults are defined.
func Default() Config {
	return Config{
		Aggregator: Aggregator{
			Address:          "127.0.0.1:7400",
			ReconnectMin:     Duration(500 * time.Millisecond),
			ReconnectMax:     Duration(30 * time.Second),
			Keepalive:        Duration(10 * time.Second),
			KeepaliveTimeout: Duration(5 * time.Second),
			MaxInFlight:      64,
			StatusInterval:   Duration(10 * time.Second),
			ShutdownDrain:    Duration(5 * time.Second),
			Compression:      "zstd",
		},
		Buffer: Buffer{
			Dir:          "/var/lib/lifeline-agent/buffer",
			MaxBytes:     1 << 30,
			BatchSamples: 2000,
			BatchWait:    Duration(200 * time.Millisecond),
			Sync:         "batch",
			SyncInterval: Duration(time.Second),
			MinFreeBytes: 256 << 20,
			MemoryBytes:  64 << 20,
		},
		Metrics: Metrics{Listen: "127.0.0.1:9464"},
		Log:     Log{Level: "info", Format: "text"},
	}
}

// SourceDefaults fills a source's unset fields; it is applied while loading.
func SourceDefaults(s *Source) {
	if s.SecurityPolicy == "" {
		s.SecurityPolicy = "None"
	}
	if s.SecurityMode == "" {
		s.SecurityMode = "None"
	}
	if s.SamplingInterval == 0 {
		s.SamplingInterval = Duration(100 * time.Millisecond)
	}
	if s.PublishingInterval == 0 {
		s.PublishingInterval = Duration(500 * time.Millisecond)
	}
	if s.QueueSize == 0 {
		s.QueueSize = 100
	}
	if s.ReconnectMin == 0 {
		s.ReconnectMin = Duration(time.Second)
	}
	if s.ReconnectMax == 0 {
		// A DCS back from a restart must be read within seconds: every
		// second of backoff beyond the outage is data lost.
		s.ReconnectMax = Duration(5 * time.Second)
	}
	if s.PKIDir == "" {
		s.PKIDir = DefaultPKIDir
	}
	if s.Auth == "" {
		s.Auth = "anonymous"
	}
	if s.ReadMode == "" {
		s.ReadMode = "subscribe"
	}
	if s.PollInterval == 0 {
		s.PollInterval = Duration(time.Second)
	}
}

// Load reads and validates a configuration file.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes a YAML configuration over the defaults and validates it.
// Unknown keys are errors, so a misspelt option never silently does nothing.
func Parse(data []byte) (Config, error) {
	if !utf8.Valid(data) {
		return Config{}, errors.New("file is not valid UTF-8 (save it as UTF-8; point lists from Excel can be converted with 'lifeline-agent points import')")
	}
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("parse: %w", err)
	}
	for i := range cfg.Sources {
		SourceDefaults(&cfg.Sources[i])
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Marshal encodes the configuration as YAML.
func (c Config) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

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
	if c.Buffer.MinFreeBytes < 0 {
		add("buffer.min_free_bytes %d: want 0 (no floor) or more", c.Buffer.MinFreeBytes)
	}
	if c.Buffer.MemoryBytes < 1<<20 {
		add("buffer.memory_bytes %d: want at least 1048576 (1 MiB)", c.Buffer.MemoryBytes)
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

// Duration is a time.Duration written in YAML as "500ms", "10s" or "1m".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 500ms, 10s)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// String implements fmt.Stringer.
func (d Duration) String() string { return time.Duration(d).String() }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
