// Package config defines the agent's configuration file: the site, the
// aggregator to send to, the buffer, and the OPC UA sources with their points.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

// Config is the whole agent configuration.
type Config struct {
	Site          Site           `yaml:"site"`
	Aggregator    Aggregator     `yaml:"aggregator"`
	Buffer        Buffer         `yaml:"buffer"`
	HazardSources []HazardSource `yaml:"hazard_sources,omitempty"`
	Sources       []Source       `yaml:"sources"`
	Metrics       Metrics        `yaml:"metrics"`
	StatusPage    StatusPage     `yaml:"status_page"`
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
	// Address is the aggregator; Addresses, when given, lists several
	// (and wins over Address). A name resolving to several IPs makes each
	// IP a candidate. Sites spread over the candidates by rendezvous
	// hashing of the site ID and fail over between them.
	Address   string   `yaml:"address"`
	Addresses []string `yaml:"addresses,omitempty"`
	TLS       TLS      `yaml:"tls"`
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
	// AckTimeout: an aggregator that owes the welcome, or an ack while
	// batches are in flight, and stays silent this long is left for the
	// next candidate (a paused or wedged server). 0 disables it.
	AckTimeout Duration `yaml:"ack_timeout"`
	// PreferredProbe is how often the preferred aggregator is probed while
	// the link is on another; the link returns after PreferredProbes
	// answers in a row. 0 disables returning before the other one fails.
	PreferredProbe  Duration `yaml:"preferred_probe"`
	PreferredProbes int      `yaml:"preferred_probes"`
}

// Targets returns the aggregator addresses to use: Addresses when given,
// else Address.
func (a Aggregator) Targets() []string {
	if len(a.Addresses) > 0 {
		return a.Addresses
	}
	return []string{a.Address}
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
	// Password, PasswordFile or PasswordEnv, the name of an environment
	// variable holding it) or certificate (UserCertFile and UserKeyFile).
	Auth         string `yaml:"auth"`
	Username     string `yaml:"username,omitempty"`
	Password     string `yaml:"password,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty"`
	PasswordEnv  string `yaml:"password_env,omitempty"`
	UserCertFile string `yaml:"user_cert_file,omitempty"`
	UserKeyFile  string `yaml:"user_key_file,omitempty"`
	// ReadMode is subscribe (monitored items) or poll (cyclic Read every
	// PollInterval, for servers whose subscriptions cannot be relied on).
	ReadMode     string   `yaml:"read_mode"`
	PollInterval Duration `yaml:"poll_interval"`
	// HistoryBackfill is auto (after a stop or an outage, read what was
	// missed from the server's history where the server keeps one) or off.
	// HistoryMaxWindow bounds the span read back per point.
	HistoryBackfill  string   `yaml:"history_backfill"`
	HistoryMaxWindow Duration `yaml:"history_max_window"`
	// Events reads the server's own alarms (OPC UA Alarms & Conditions).
	Events Events  `yaml:"events,omitempty"`
	Points []Point `yaml:"points"`
}

// Events configures the subscription to a source's alarm and condition
// events. Notifiers are the objects whose events are read, by node ID
// (default the Server object, i=2253, which most servers make the
// notifier of every event).
type Events struct {
	Enabled   bool     `yaml:"enabled"`
	Notifiers []string `yaml:"notifiers,omitempty"`
}

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
	// Deadband is the alarm hysteresis: an active high alarm clears below
	// limit - deadband, a low one above limit + deadband. It is not the
	// point's deadband (the server-side filter of changes).
	Deadband float64 `yaml:"deadband,omitempty"`
	// OnDelay is how long (source time) a limit must be exceeded before
	// its alarm is raised; OffDelay how long the value must stay returned
	// before it clears. Unset: the aggregator's alarms.on_delay and
	// alarms.off_delay; 0s: none.
	OnDelay  *Duration `yaml:"on_delay,omitempty"`
	OffDelay *Duration `yaml:"off_delay,omitempty"`
}

// Metrics configures the Prometheus endpoint; an empty Listen disables it.
type Metrics = obs.MetricsConfig

// StatusPage configures the read-only status page for the technician at
// the plant PC. An empty Listen turns it off. It serves without
// authentication, so a Listen that is not loopback needs AllowRemote.
type StatusPage struct {
	Listen      string `yaml:"listen"`
	AllowRemote bool   `yaml:"allow_remote,omitempty"`
}

// Log configures logging.
type Log = obs.LogConfig

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
			AckTimeout:       Duration(30 * time.Second),
			PreferredProbe:   Duration(10 * time.Second),
			PreferredProbes:  3,
		},
		Buffer: Buffer{
			Dir:          DefaultPaths().Buffer,
			MaxBytes:     1 << 30,
			BatchSamples: 2000,
			BatchWait:    Duration(200 * time.Millisecond),
			Sync:         "batch",
			SyncInterval: Duration(time.Second),
			MinFreeBytes: 256 << 20,
			MemoryBytes:  64 << 20,
		},
		Metrics:    Metrics{Listen: "127.0.0.1:9464"},
		StatusPage: StatusPage{Listen: "127.0.0.1:9480"},
		Log:        obs.DefaultLog(),
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
		s.PKIDir = DefaultPaths().PKI
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
	if s.HistoryBackfill == "" {
		s.HistoryBackfill = "auto"
	}
	if s.Events.Enabled && len(s.Events.Notifiers) == 0 {
		s.Events.Notifiers = []string{"i=2253"}
	}
	if s.HistoryMaxWindow == 0 {
		s.HistoryMaxWindow = Duration(7 * 24 * time.Hour)
	}
}

// Load reads a configuration file for running the agent: every section
// is validated. See LoadFor.
func Load(path string) (Config, error) { return LoadFor(path, All) }

// LoadFor reads a configuration file and validates the sections a command
// uses; the sources' passwords are read from the environment when the
// command uses the sources.
func LoadFor(path string, uses Sections) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg, err := ParseFor(data, uses)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if uses&(SourcesSection|ConnectionsSection) == 0 {
		return cfg, nil
	}
	if err := cfg.passwordsFromEnv(os.Getenv); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes a YAML configuration over the defaults and validates all
// of it. See ParseFor.
func Parse(data []byte) (Config, error) { return ParseFor(data, All) }

// ParseFor decodes a YAML configuration over the defaults and validates
// the sections given. Unknown keys are errors in every section, so a
// misspelt option never silently does nothing.
func ParseFor(data []byte, uses Sections) (Config, error) {
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
	if err := cfg.ValidateFor(uses); err != nil {
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
