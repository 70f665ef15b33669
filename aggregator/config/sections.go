package config

// Sections names the parts of the configuration a command uses, so that
// a command is refused only for problems in what it reads: migrate needs
// ClickHouse, not the certificates agents connect with.
type Sections uint

// The sections; the log section is always validated.
const (
	ServerSection Sections = 1 << iota
	ClickHouseSection
	WriterSection
	AlarmsSection
	RetentionSection
	MetricsSection
	GrafanaSection
	ReportSection
	ConsoleSection
	NotifySection
	ForwardSection

	// All is what serving agents (run) needs.
	All = ServerSection | ClickHouseSection | WriterSection | AlarmsSection | RetentionSection | MetricsSection | GrafanaSection |
		ReportSection | ConsoleSection | NotifySection | ForwardSection
)
