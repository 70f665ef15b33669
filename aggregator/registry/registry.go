// Package registry reads the aggregator's registry file: what the agents'
// point lists do not say — enterprise names and codes, the unit type of each
// major hazard source, the type and medium of equipment, out-of-service
// (停用) periods and per-point alarm timing — and writes it to the store.
package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// File is the registry file.
type File struct {
	Enterprises   []Enterprise   `yaml:"enterprises"`
	HazardSources []HazardSource `yaml:"hazard_sources"`
	Equipment     []Equipment    `yaml:"equipment"`
	OutOfService  []OutOfService `yaml:"out_of_service"`
	Points        []Point        `yaml:"points"`
}

// Enterprise names a site.
type Enterprise struct {
	Site string `yaml:"site"`
	Code string `yaml:"code"` // e.g. the unified social credit code
	Name string `yaml:"name"`
	Park string `yaml:"park"`
}

// HazardSource is a major hazard source (GB 18218).
type HazardSource struct {
	Site     string `yaml:"site"`
	Code     string `yaml:"code"`
	Name     string `yaml:"name"`
	Level    uint8  `yaml:"level"`     // 1 (highest) … 4
	UnitType string `yaml:"unit_type"` // tank_farm, warehouse, production_unit
}

// Equipment is a tank, reactor, … as named in the points' equipment field.
type Equipment struct {
	Site         string `yaml:"site"`
	Name         string `yaml:"name"`
	Type         string `yaml:"type"`
	Medium       string `yaml:"medium"`
	HazardSource string `yaml:"hazard_source"`
}

// OutOfService is a 停用 period; an empty To leaves it open.
type OutOfService struct {
	Site    string    `yaml:"site"`
	Point   string    `yaml:"point"`
	From    time.Time `yaml:"from"`
	To      time.Time `yaml:"to"`
	Reason  string    `yaml:"reason"`
	By      string    `yaml:"by"`
	Deleted bool      `yaml:"deleted"`
}

// Point sets one point's alarm timing; 0 keeps the aggregator's default
// and -1s turns it off.
type Point struct {
	Site       string        `yaml:"site"`
	Point      string        `yaml:"point"`
	OnDelay    time.Duration `yaml:"on_delay"`
	OffDelay   time.Duration `yaml:"off_delay"`
	StaleAfter time.Duration `yaml:"stale_after"`
}

// Load reads and validates a registry file. Unknown keys are errors.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("registry %s: %w", path, err)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("registry %s: %w", path, err)
	}
	return &f, nil
}

// Validate reports every invalid entry, naming it. It changes nothing.
func (f *File) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for i, e := range f.Enterprises {
		if e.Site == "" || e.Name == "" {
			bad("enterprises[%d]: site and name are required", i)
		}
		if len(e.Park) > 128 || strings.ContainsFunc(e.Park, func(r rune) bool { return r < ' ' || r == '\'' || r == '"' || r == '\\' || r == 0x7f }) {
			bad("enterprises[%d] (%s): park %q: at most 128 bytes, no quotes, backslashes or control characters", i, e.Site, e.Park)
		}
	}
	for i, h := range f.HazardSources {
		if h.Site == "" || h.Code == "" {
			bad("hazard_sources[%d]: site and code are required", i)
		}
		if h.Level < 1 || h.Level > 4 {
			bad("hazard_sources[%d] (%s): level %d: want 1 (highest) to 4 (GB 18218)", i, h.Code, h.Level)
		}
		switch h.UnitType {
		case "", "tank_farm", "warehouse", "production_unit":
		default:
			bad("hazard_sources[%d] (%s): unit_type %q: want tank_farm, warehouse or production_unit", i, h.Code, h.UnitType)
		}
	}
	for i, e := range f.Equipment {
		if e.Site == "" || e.Name == "" {
			bad("equipment[%d]: site and name are required", i)
		}
	}
	for i, o := range f.OutOfService {
		switch {
		case o.Site == "" || o.Point == "":
			bad("out_of_service[%d]: site and point are required", i)
		case o.From.IsZero():
			bad("out_of_service[%d] (%s/%s): from is required", i, o.Site, o.Point)
		case !o.To.IsZero() && !o.To.After(o.From):
			bad("out_of_service[%d] (%s/%s): to %s is not after from %s", i, o.Site, o.Point, o.To.Format(time.RFC3339), o.From.Format(time.RFC3339))
		case o.Reason == "":
			bad("out_of_service[%d] (%s/%s): reason is required (停用原因)", i, o.Site, o.Point)
		}
	}
	for i, p := range f.Points {
		if p.Site == "" || p.Point == "" {
			bad("points[%d]: site and point are required", i)
		}
	}
	return errors.Join(errs...)
}

// Saver stores registry entries; *store.Store is one.
type Saver interface {
	SaveRegistry(ctx context.Context, ents []store.Enterprise, hazards []store.HazardSource, equip []store.Equipment, settings []store.PointSettings) error
	SaveOutOfService(ctx context.Context, periods []store.OutOfServicePeriod) error
}

// Apply writes the file's entries; entries already stored with the same key
// are replaced, earlier versions of points stay in point_versions.
func (f *File) Apply(ctx context.Context, s Saver) error {
	var (
		ents     []store.Enterprise
		hazards  []store.HazardSource
		equip    []store.Equipment
		settings []store.PointSettings
		periods  []store.OutOfServicePeriod
	)
	for _, e := range f.Enterprises {
		ents = append(ents, store.Enterprise{SiteID: e.Site, Code: e.Code, Name: e.Name, Park: e.Park})
	}
	for _, h := range f.HazardSources {
		hazards = append(hazards, store.HazardSource{SiteID: h.Site, Code: h.Code, Name: h.Name, Level: h.Level, UnitType: h.UnitType})
	}
	for _, e := range f.Equipment {
		equip = append(equip, store.Equipment{SiteID: e.Site, Name: e.Name, Type: e.Type, Medium: e.Medium, HazardCode: e.HazardSource})
	}
	for _, p := range f.Points {
		settings = append(settings, store.PointSettings{SiteID: p.Site, PointID: p.Point, OnDelay: p.OnDelay, OffDelay: p.OffDelay, StaleAfter: p.StaleAfter})
	}
	for _, o := range f.OutOfService {
		periods = append(periods, store.OutOfServicePeriod{SiteID: o.Site, PointID: o.Point, From: o.From, To: o.To,
			Reason: o.Reason, SetBy: o.By, Deleted: o.Deleted})
	}
	if err := s.SaveRegistry(ctx, ents, hazards, equip, settings); err != nil {
		return fmt.Errorf("apply registry: %w", err)
	}
	if len(periods) > 0 {
		if err := s.SaveOutOfService(ctx, periods); err != nil {
			return fmt.Errorf("apply registry: %w", err)
		}
	}
	return nil
}
