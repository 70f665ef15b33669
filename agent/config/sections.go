package config

// Sections names the parts of the configuration a command uses, so that
// a command is refused only for problems in what it reads: browsing a
// server to find its points needs neither certificates nor points.
type Sections uint

// The sections; the log section is always validated.
const (
	SiteSection Sections = 1 << iota
	AggregatorSection
	BufferSection
	// SourcesSection is the sources with their points and the hazard
	// sources the points name.
	SourcesSection
	// ConnectionsSection is the sources' connection settings alone: a
	// source may have no points yet.
	ConnectionsSection
	MetricsSection
	StatusPageSection

	// All is what running the agent (run, check) needs.
	All = SiteSection | AggregatorSection | BufferSection | SourcesSection | MetricsSection | StatusPageSection
)
