package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Disposition is an alarm of alarm_events with what operators did about
// it, folded from its alarm_actions rows in time order.
type Disposition struct {
	AlarmKey
	Park       string
	Priority   uint8
	Active     bool
	ClearedNs  int64 // 0 while active
	Value      float64
	Limit      float64
	Kind       string
	Unit       string
	HazardCode string
	Equipment  string

	AckedBy    string // "" until acknowledged (by an ack, or a close)
	AckedNs    int64
	Cause      string // latest non-empty cause (原因)
	Measures   string // latest non-empty measures (措施)
	ShelvedBy  string
	ShelvedNs  int64
	ShelveEnd  int64 // until_ns of the latest shelve; 0 when unshelved or never shelved
	ShelveWhy  string
	ClosedBy   string // "" until closed
	ClosedNs   int64
	LastAction int64 // at_ns of the latest action, 0 without any
}

// Acknowledged says whether the alarm has an 'ack' or 'close' row.
func (d Disposition) Acknowledged() bool { return d.AckedBy != "" }

// Shelved says whether the alarm is shelved at nowNs.
func (d Disposition) Shelved(nowNs int64) bool { return d.ShelveEnd > nowNs }

// Closed says whether the alarm has a 'close' row.
func (d Disposition) Closed() bool { return d.ClosedBy != "" }

// apply folds one action into d; actions must come in time order.
func (d *Disposition) apply(a AlarmAction) {
	d.LastAction = a.AtNs
	if a.Cause != "" {
		d.Cause = a.Cause
	}
	if a.Measures != "" {
		d.Measures = a.Measures
	}
	switch a.Action {
	case ActionAck:
		if d.AckedBy == "" {
			d.AckedBy, d.AckedNs = a.User, a.AtNs
		}
	case ActionShelve:
		d.ShelvedBy, d.ShelvedNs, d.ShelveEnd, d.ShelveWhy = a.User, a.AtNs, a.UntilNs, a.Reason
	case ActionUnshelve:
		d.ShelvedBy, d.ShelvedNs, d.ShelveEnd, d.ShelveWhy = "", 0, 0, ""
	case ActionClose:
		if d.AckedBy == "" {
			d.AckedBy, d.AckedNs = a.User, a.AtNs
		}
		d.ClosedBy, d.ClosedNs = a.User, a.AtNs
	}
}

// ParkSites returns the sites of park: the registry's park of a site
// (enterprises) where it names one, else the park its agent announced.
func (s *Store) ParkSites(ctx context.Context, park string) ([]string, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	registered, announced := map[string]string{}, map[string]string{}
	err = queryEach(ctx, conn, "read parks", func(rows driver.Rows) error {
		var site, p string
		var fromRegistry uint8
		if err := rows.Scan(&site, &p, &fromRegistry); err != nil {
			return err
		}
		if fromRegistry == 1 {
			registered[site] = p
		} else {
			announced[site] = p
		}
		return nil
	}, "SELECT site_id, park, 1 FROM enterprises FINAL "+
		"UNION ALL SELECT site_id, park, 0 FROM sites FINAL")
	if err != nil {
		return nil, err
	}
	var out []string
	for site, p := range announced {
		if r := registered[site]; r != "" {
			p = r
		}
		if p == park {
			out = append(out, site)
		}
	}
	for site, p := range registered {
		if _, ok := announced[site]; !ok && p == park {
			out = append(out, site)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ParkAlarms returns the alarms of park's sites that are active or were
// raised at or after sinceNs, newest first, at most limit, each with its
// disposition.
func (s *Store) ParkAlarms(ctx context.Context, park string, sinceNs int64, limit int) ([]Disposition, error) {
	sites, err := s.ParkSites(ctx, park)
	if err != nil || len(sites) == 0 {
		return nil, err
	}
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	out, err := queryAll(ctx, conn, "read alarms of park "+park, func(rows driver.Rows) (Disposition, error) {
		d := Disposition{Park: park}
		var active uint8
		err := rows.Scan(&d.SiteID, &d.PointID, &d.Condition, &d.Priority, &active, &d.RaisedNs, &d.ClearedNs,
			&d.Value, &d.Limit, &d.Kind, &d.Unit, &d.HazardCode, &d.Equipment)
		d.Active = active == 1
		return d, err
	}, "SELECT site_id, point_id, condition, priority, state = 'active', raised_ns, cleared_ns, "+
		"value, limit_value, kind, unit, hazard_code, equipment FROM alarm_events FINAL "+
		"WHERE site_id IN ? AND (state = 'active' OR raised_ns >= ?) ORDER BY raised_ns DESC LIMIT ?",
		inSet(sites), sinceNs, limit)
	if err != nil {
		return nil, err
	}
	if err := s.foldActions(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// foldActions reads the actions of the alarms ds and applies them.
func (s *Store) foldActions(ctx context.Context, ds []Disposition) error {
	if len(ds) == 0 {
		return nil
	}
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	index := make(map[AlarmKey]int, len(ds))
	var sites []string
	oldest := ds[0].RaisedNs
	for i, d := range ds {
		index[d.AlarmKey] = i
		sites = append(sites, d.SiteID)
		oldest = min(oldest, d.RaisedNs)
	}
	slices.Sort(sites)
	return queryEach(ctx, conn, "read alarm actions", func(rows driver.Rows) error {
		var a AlarmAction
		k := &a.Key
		if err := rows.Scan(&k.SiteID, &k.PointID, &k.Condition, &k.RaisedNs, &a.Action, &a.AtNs, &a.User,
			&a.Cause, &a.Measures, &a.Reason, &a.UntilNs); err != nil {
			return err
		}
		if i, ok := index[a.Key]; ok {
			ds[i].apply(a)
		}
		return nil
	}, "SELECT site_id, point_id, condition, raised_ns, toString(action), at_ns, user, "+
		"cause, measures, reason, until_ns FROM alarm_actions FINAL WHERE site_id IN ? AND raised_ns >= ? "+
		"ORDER BY at_ns, action_id", inSet(slices.Compact(sites)), oldest)
}

// ParkAlarm returns one alarm with its disposition when it belongs to a
// site of park; ok is false when there is no such alarm in park.
func (s *Store) ParkAlarm(ctx context.Context, park string, key AlarmKey) (d Disposition, ok bool, err error) {
	sites, err := s.ParkSites(ctx, park)
	if err != nil || !slices.Contains(sites, key.SiteID) {
		return Disposition{}, false, err
	}
	conn, _, err := s.connCaps()
	if err != nil {
		return Disposition{}, false, err
	}
	rows, err := conn.Query(ctx, "SELECT priority, state = 'active', cleared_ns, value, limit_value, kind, unit, "+
		"hazard_code, equipment FROM alarm_events FINAL "+
		"WHERE site_id = ? AND point_id = ? AND condition = ? AND raised_ns = ?",
		key.SiteID, key.PointID, key.Condition, key.RaisedNs)
	if err != nil {
		return Disposition{}, false, fmt.Errorf("read alarm: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return Disposition{}, false, rows.Err()
	}
	d = Disposition{AlarmKey: key, Park: park}
	var active uint8
	if err := rows.Scan(&d.Priority, &active, &d.ClearedNs, &d.Value, &d.Limit, &d.Kind, &d.Unit,
		&d.HazardCode, &d.Equipment); err != nil {
		return Disposition{}, false, fmt.Errorf("read alarm: %w", err)
	}
	d.Active = active == 1
	ds := []Disposition{d}
	if err := s.foldActions(ctx, ds); err != nil {
		return Disposition{}, false, err
	}
	return ds[0], true, nil
}
