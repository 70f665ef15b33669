// Package config defines the aggregator's configuration file: the gRPC
// listener, ClickHouse, the insert batching, alarms and their
// notification, metrics and logging.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lifeline-telemetry/lifeline/aggregator/alarm"
	"github.com/lifeline-telemetry/lifeline/aggregator/console"
	"github.com/lifeline-telemetry/lifeline/aggregator/forward"
	"github.com/lifeline-telemetry/lifeline/aggregator/ingest"
	"github.com/lifeline-telemetry/lifeline/aggregator/notify"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

// Environment variables that override the file, so operators and CI can
// point every command at an existing ClickHouse.
const (
	EnvClickHouseAddr     = "LIFELINE_CLICKHOUSE_ADDR"
	EnvClickHouseDatabase = "LIFELINE_CLICKHOUSE_DATABASE"
)

// Config is the whole aggregator configuration.
type Config struct {
	Server     ingest.ServerConfig `yaml:"server"`
	ClickHouse ClickHouse          `yaml:"clickhouse"`
	Writer     Writer              `yaml:"writer"`
	Metrics    Metrics             `yaml:"metrics"`
	Alarms     Alarms              `yaml:"alarms"`
	Retention  Retention           `yaml:"retention"`
	// RegistryFile names the registry file (enterprises, hazard source unit
	// types, equipment, out-of-service periods, per-point alarm timing),
	// applied at every start; empty for none.
	RegistryFile string `yaml:"registry_file"`
	// RequireRegistered refuses agents whose site the registry's
	// enterprises do not list; without it an unlisted site keeps the park
	// its first hello announced.
	RequireRegistered bool    `yaml:"require_registered"`
	Log               Log     `yaml:"log"`
	Grafana           Grafana `yaml:"grafana"`
	Report            Report  `yaml:"report"`
	// Console is the alarm acknowledgement console; off unless listen is set.
	Console console.Config `yaml:"console"`
	// Notify pages people about alarms (docs/alarms.md, "Notifications").
	Notify notify.Config `yaml:"notify"`
	// NodeID names this aggregator in site_owners, where several
	// aggregators sharing one ClickHouse record which of them evaluates
	// each site's alarms. It must be stable across restarts and distinct
	// between aggregators; empty means host name and server.listen.
	NodeID string `yaml:"node_id"`
	// Forward reports to provincial platforms (docs/forwarding.md).
	Forward forward.Config `yaml:"forward"`
	// MemoryLimit is the Go runtime's soft memory limit while serving.
	MemoryLimit MemoryLimit `yaml:"memory_limit"`
}

// Node returns NodeID, or the host name and listen address when unset
// (with a random suffix when the port is picked at start).
func (c Config) Node() string {
	if c.NodeID != "" {
		return c.NodeID
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	id := host + "/" + c.Server.Listen
	if strings.HasSuffix(c.Server.Listen, ":0") {
		// A port picked at start is no stable name: two aggregators of one
		// host (tests) must still differ.
		id += fmt.Sprintf("/%d-%d", os.Getpid(), rand.Uint32())
	}
	return id
}

// ClickHouse says where samples are stored.
type ClickHouse struct {
	Addr     string `yaml:"addr"`
	Database string `yaml:"database"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// PasswordFile holds the password instead ($LIFELINE_CLICKHOUSE_PASSWORD beats both).
	PasswordFile string        `yaml:"password_file"`
	DialTimeout  time.Duration `yaml:"dial_timeout"`
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	// Cluster names a cluster of the server's remote_servers: the schema is
	// then replicated and distributed across it (docs/scaling.md). Empty
	// means a single server.
	Cluster string `yaml:"cluster"`
}

// Writer groups batches from all agents into large inserts.
type Writer struct {
	MaxRows  int           `yaml:"max_rows"`
	MaxDelay time.Duration `yaml:"max_delay"`
	// MaxPendingRows also bounds the admission window the agents share
	// (see ingest.Options.WindowSamples).
	MaxPendingRows int `yaml:"max_pending_rows"`
	// Inserts run at once, each on its own ClickHouse connection.
	Inserts int `yaml:"inserts"`
}

// Alarms tune alarm evaluation (see docs/schema.md, "Alarms").
type Alarms struct {
	OnDelay       time.Duration `yaml:"on_delay"`
	OffDelay      time.Duration `yaml:"off_delay"`
	StaleAfter    time.Duration `yaml:"stale_after"`
	CommLossAfter time.Duration `yaml:"comm_loss_after"`
	// Grace is how late (aggregator clock) a sample may arrive before a
	// delay or staleness is decided without it.
	Grace time.Duration `yaml:"grace"`
	// MaxQueuedSamples bounds the committed samples held for evaluation;
	// batches beyond it are read back from ClickHouse instead.
	MaxQueuedSamples int `yaml:"max_queued_samples"`
}

// Retention says how many days data is kept; 0 keeps it forever.
type Retention struct {
	RawDays    int `yaml:"raw_days"`
	MinuteDays int `yaml:"minute_days"`
	HourDays   int `yaml:"hour_days"`
	LedgerDays int `yaml:"ledger_days"`
}

// Metrics configures the Prometheus endpoint; empty Listen disables it.
type Metrics = obs.MetricsConfig

// Grafana is the Grafana that `lifeline-aggregator provision` writes the
// park folders, teams and dashboards to. Empty URL: provision only with
// --dry-run (files).
type Grafana struct {
	URL          string        `yaml:"url"`
	Token        string        `yaml:"token"` // service account token
	TokenFile    string        `yaml:"token_file"`
	Username     string        `yaml:"username"`
	Password     string        `yaml:"password"`
	PasswordFile string        `yaml:"password_file"`
	OrgID        int64         `yaml:"org_id"`
	Lang         string        `yaml:"lang"`
	Timeout      time.Duration `yaml:"timeout"`
	// AckOverdue: the alarm dashboard calls an alarm unacknowledged this
	// long overdue (whole minutes).
	AckOverdue time.Duration     `yaml:"ack_overdue"`
	Datasource GrafanaDatasource `yaml:"datasource"`
}

// GrafanaDatasource is how Grafana reaches ClickHouse. Empty Addr and
// Database mean clickhouse.addr and clickhouse.database.
type GrafanaDatasource struct {
	UID          string `yaml:"uid"`
	Name         string `yaml:"name"`
	Addr         string `yaml:"addr"`
	Database     string `yaml:"database"`
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	Secure       bool   `yaml:"secure"`
}

// Log configures logging.
type Log = obs.LogConfig

// Default returns the configuration with every default filled in.
func Default() Config {
	sc := store.DefaultConfig()
	wo := writer.DefaultOptions()
	ao := alarm.DefaultOptions()
	rd := store.DefaultRetention()
	return Config{
		Server: ingest.DefaultServerConfig(),
		ClickHouse: ClickHouse{Addr: sc.Addr, Database: sc.Database, Username: sc.Username,
			DialTimeout: sc.DialTimeout, ReadTimeout: sc.ReadTimeout},
		Writer:  Writer{MaxRows: wo.MaxRows, MaxDelay: wo.MaxDelay, MaxPendingRows: wo.MaxPendingRows, Inserts: wo.Inserts},
		Metrics: Metrics{Listen: "127.0.0.1:9465"},
		Alarms: Alarms{OnDelay: ao.OnDelay, OffDelay: ao.OffDelay, StaleAfter: ao.StaleAfter,
			CommLossAfter: ao.CommLossAfter, Grace: ao.Grace, MaxQueuedSamples: ao.MaxQueuedSamples},
		Retention: Retention{RawDays: rd.RawDays, MinuteDays: rd.MinuteDays, HourDays: rd.HourDays, LedgerDays: rd.LedgerDays},
		Log:       obs.DefaultLog(),
		Grafana: Grafana{Lang: "zh", Timeout: 30 * time.Second, AckOverdue: 15 * time.Minute, Datasource: GrafanaDatasource{
			UID: "lifeline-clickhouse", Name: "Lifeline ClickHouse", Username: "lifeline_readonly"}},
		Report:  DefaultReport(),
		Console: console.DefaultConfig(),
		Notify:  notify.DefaultConfig(),

		MemoryLimit: MemoryAuto,
	}
}

// Load reads a configuration file for serving agents: every section is
// validated and every secret read. See LoadFor.
func Load(path string) (Config, error) { return LoadFor(path, All) }

// LoadFor reads a configuration file (or only defaults when path is
// empty), applies the environment overrides, validates the sections a
// command uses, then reads those sections' secrets from their environment
// variables or files. Unknown keys are errors in every section.
func LoadFor(path string, uses Sections) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	cfg.ApplyEnv(os.Getenv)
	if err := cfg.ValidateFor(uses); err != nil {
		if path == "" {
			path = "(defaults)"
		}
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if err := cfg.resolveSecrets(os.Getenv, uses); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ApplyEnv overrides ClickHouse settings from the environment.
func (c *Config) ApplyEnv(getenv func(string) string) {
	if v := getenv(EnvClickHouseAddr); v != "" {
		c.ClickHouse.Addr = v
	}
	if v := getenv(EnvClickHouseDatabase); v != "" {
		c.ClickHouse.Database = v
	}
}

// Store returns the store's configuration.
func (c Config) Store() store.Config {
	return store.Config{Addr: c.ClickHouse.Addr, Database: c.ClickHouse.Database, Username: c.ClickHouse.Username,
		Password: c.ClickHouse.Password, DialTimeout: c.ClickHouse.DialTimeout, ReadTimeout: c.ClickHouse.ReadTimeout,
		Cluster: c.ClickHouse.Cluster, Inserts: c.WriterOptions().Inserts}
}

// Options returns the insert batching options.
func (c Config) WriterOptions() writer.Options {
	o := writer.DefaultOptions()
	o.MaxRows, o.MaxDelay, o.MaxPendingRows = c.Writer.MaxRows, c.Writer.MaxDelay, c.Writer.MaxPendingRows
	o.Inserts = c.Writer.Inserts
	return o
}

// AlarmOptions returns the alarm evaluator's options.
func (c Config) AlarmOptions() alarm.Options {
	o := alarm.DefaultOptions()
	o.OnDelay, o.OffDelay = c.Alarms.OnDelay, c.Alarms.OffDelay
	o.StaleAfter, o.CommLossAfter = c.Alarms.StaleAfter, c.Alarms.CommLossAfter
	o.Grace = c.Alarms.Grace
	o.MaxQueuedSamples = c.Alarms.MaxQueuedSamples
	return o
}

// RetentionPolicy returns the data retention.
func (c Config) RetentionPolicy() store.Retention {
	return store.Retention{RawDays: c.Retention.RawDays, MinuteDays: c.Retention.MinuteDays, HourDays: c.Retention.HourDays,
		LedgerDays: c.Retention.LedgerDays}
}

// Validate reports every problem in every section, each naming its
// option. It changes nothing.
func (c Config) Validate() error { return c.ValidateFor(All) }

// ValidateFor reports every problem in the sections given (and the log
// section, which every command uses), each naming its option.
func (c Config) ValidateFor(uses Sections) error {
	errs := []error{c.Log.Validate()}
	if uses&ServerSection != 0 {
		errs = append(errs, c.Server.Validate(), c.MemoryLimit.Validate())
	}
	if uses&ClickHouseSection != 0 {
		if err := c.Store().Validate(); err != nil {
			errs = append(errs, prefixed("clickhouse.", err))
		}
	}
	if uses&WriterSection != 0 && (c.Writer.MaxRows < 1 || c.Writer.MaxDelay <= 0 || c.Writer.MaxPendingRows < c.Writer.MaxRows || c.Writer.Inserts < 1) {
		errs = append(errs, errors.New("writer: want max_rows >= 1, max_delay > 0, max_pending_rows >= max_rows and inserts >= 1"))
	}
	if uses&AlarmsSection != 0 && (c.Alarms.OnDelay < 0 || c.Alarms.OffDelay < 0 || c.Alarms.StaleAfter < 0 || c.Alarms.CommLossAfter < 0 || c.Alarms.Grace < 0) {
		errs = append(errs, errors.New("alarms: on_delay, off_delay, stale_after, comm_loss_after and grace must be 0 (off) or positive"))
	}
	if uses&AlarmsSection != 0 && c.Alarms.MaxQueuedSamples < 0 {
		errs = append(errs, fmt.Errorf("alarms.max_queued_samples %d: must be positive (0 for the default)", c.Alarms.MaxQueuedSamples))
	}
	if uses&RetentionSection != 0 {
		if err := c.RetentionPolicy().Validate(); err != nil {
			errs = append(errs, prefixed("retention.", err))
		}
	}
	if uses&MetricsSection != 0 {
		errs = append(errs, c.Metrics.Validate())
	}
	if uses&GrafanaSection != 0 {
		errs = append(errs, c.Grafana.validate())
	}
	if uses&ReportSection != 0 {
		errs = append(errs, c.Report.validate())
	}
	if uses&ConsoleSection != 0 {
		errs = append(errs, c.Console.Validate())
	}
	if uses&NotifySection != 0 {
		if err := c.Notify.Validate(); err != nil {
			errs = append(errs, prefixed("notify.", err))
		}
	}
	if uses&ForwardSection != 0 {
		errs = append(errs, c.Forward.Validate())
	}
	errs = append(errs, c.validateSecrets(uses))
	return errors.Join(errs...)
}

func (g Grafana) validate() error {
	var errs []error
	if g.URL != "" && !strings.HasPrefix(g.URL, "http://") && !strings.HasPrefix(g.URL, "https://") {
		errs = append(errs, fmt.Errorf("grafana.url %q: want http(s)://host[:port][/path] or empty", g.URL))
	}
	switch strings.ToLower(g.Lang) {
	case "zh", "zh-cn", "en":
	default:
		errs = append(errs, fmt.Errorf("grafana.lang %q: want zh or en", g.Lang))
	}
	if g.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("grafana.timeout %s: want > 0", g.Timeout))
	}
	if g.AckOverdue < time.Minute || g.AckOverdue%time.Minute != 0 {
		errs = append(errs, fmt.Errorf("grafana.ack_overdue %s: want whole minutes, at least 1m", g.AckOverdue))
	}
	return errors.Join(errs...)
}

func prefixed(prefix string, err error) error {
	var out []error
	for _, line := range strings.Split(err.Error(), "\n") {
		out = append(out, errors.New(prefix+line))
	}
	return errors.Join(out...)
}
