package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// TableSiteOwners records which aggregator evaluates each site's alarms.
const TableSiteOwners = "site_owners"

// siteOwnersDDL: one row per claim. A site's owner is the row with the
// highest epoch; two aggregators that raced for one epoch number both keep
// their row (owner is in the key) and the lower owner id wins, so every
// reader agrees without FINAL.
func siteOwnersDDL() string {
	return `CREATE TABLE IF NOT EXISTS site_owners (
    site_id String,
    epoch   UInt64,
    owner   String,
    at_ns   Int64
) ENGINE = ReplacingMergeTree
ORDER BY (site_id, epoch, owner)`
}

// SiteOwner is a site's current owner.
type SiteOwner struct {
	SiteID string
	Epoch  uint64
	Owner  string
	AtNs   int64
}

// claimAttempts bounds how often ClaimSite retries a claim another
// aggregator won at the same epoch number.
const claimAttempts = 5

// ClaimSite makes owner the site's owner under a new epoch (the highest so
// far plus one), written and read back, and returns it. A claim another
// aggregator won in the same instant is retried with the next epoch: the
// latest claimer owns the site.
func (s *Store) ClaimSite(ctx context.Context, siteID, owner string) (uint64, error) {
	won, err := s.ClaimSites(ctx, []string{siteID}, owner)
	if epoch, ok := won[siteID]; ok {
		return epoch, nil
	}
	return 0, err
}

// ClaimSites is ClaimSite for many sites at once, in one read, one insert
// and one read back for all of them (per attempt). It returns the epochs
// of the sites claimed; the error names those it could not claim.
func (s *Store) ClaimSites(ctx context.Context, sites []string, owner string) (map[string]uint64, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	won := make(map[string]uint64, len(sites))
	todo := slices.Compact(slices.Sorted(slices.Values(sites)))
	for range claimAttempts {
		if len(todo) == 0 {
			return won, nil
		}
		if todo, err = s.claimOnce(ctx, conn, todo, owner, won); err != nil {
			return won, err
		}
	}
	if len(todo) == 0 {
		return won, nil
	}
	return won, fmt.Errorf("claim site %s (of %d): lost %d races for ownership", todo[0], len(todo), claimAttempts)
}

// claimOnce claims sites under the next epoch of each, records those won
// in won and returns the others.
func (s *Store) claimOnce(ctx context.Context, conn driver.Conn, sites []string, owner string, won map[string]uint64) ([]string, error) {
	cur, err := s.siteOwners(ctx, conn, sites)
	if err != nil {
		return nil, err
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO site_owners (site_id, epoch, owner, at_ns)")
	if err != nil {
		return nil, fmt.Errorf("claim site %s: prepare: %w", sites[0], err)
	}
	at := time.Now().UnixNano()
	for _, site := range sites {
		if err := batch.Append(site, cur[site].Epoch+1, owner, at); err != nil {
			_ = batch.Abort()
			return nil, permanent(fmt.Errorf("claim site %s: %w", site, err))
		}
	}
	if err := batch.Send(); err != nil {
		return nil, fmt.Errorf("claim site %s (of %d): %w", sites[0], len(sites), err)
	}
	after, err := s.siteOwners(ctx, conn, sites)
	if err != nil {
		return nil, err
	}
	var lost []string
	for _, site := range sites {
		if got := after[site]; got.Epoch == cur[site].Epoch+1 && got.Owner == owner {
			won[site] = got.Epoch
			continue
		}
		lost = append(lost, site)
	}
	return lost, nil
}

// SiteOwners returns the current owner of each of sites that has one; all
// sites when sites is nil.
func (s *Store) SiteOwners(ctx context.Context, sites []string) (map[string]SiteOwner, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	return s.siteOwners(ctx, conn, sites)
}

func (s *Store) siteOwners(ctx context.Context, conn driver.Conn, sites []string) (map[string]SiteOwner, error) {
	from, ctx, err := s.fromEveryReplica(ctx, conn, TableSiteOwners)
	if err != nil {
		return nil, err
	}
	q := "SELECT site_id, epoch, owner, at_ns FROM " + from
	var args []any
	if sites != nil {
		if len(sites) == 0 {
			return map[string]SiteOwner{}, nil
		}
		q += " WHERE site_id IN (?" + strings.Repeat(", ?", len(sites)-1) + ")"
		for _, s := range sites {
			args = append(args, s)
		}
	}
	q += " ORDER BY site_id, epoch DESC, owner LIMIT 1 BY site_id"
	out := map[string]SiteOwner{}
	err = queryEach(ctx, conn, "read site owners", func(rows driver.Rows) error {
		var o SiteOwner
		if err := rows.Scan(&o.SiteID, &o.Epoch, &o.Owner, &o.AtNs); err != nil {
			return err
		}
		out[o.SiteID] = o
		return nil
	}, q, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// migrateEpochs adds the epoch column to alarm tables made before site
// ownership; their rows read as epoch 0.
func (s *Store) migrateEpochs(ctx context.Context, conn driver.Conn) error {
	for _, table := range []string{TableAlarmEvents, TableAlarmState} {
		cols, err := tableColumns(ctx, conn, table)
		if err != nil {
			return err
		}
		if len(cols) == 0 || cols["epoch"] {
			continue
		}
		if err := conn.Exec(ctx, "ALTER TABLE "+table+" ADD COLUMN epoch UInt64 DEFAULT 0"); err != nil {
			return fmt.Errorf("migrate %s: add epoch: %w", table, err)
		}
		s.logger.Info("migrated " + table + ": added epoch")
	}
	return nil
}
