package bench

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// livenessPoints is how many steady points the liveness measure stores a
// day of.
const livenessPoints = 1000

// storageLiveness stores, through the aggregator's store, a day of
// liveness records for livenessPoints points that hold steady all day
// (every minute listed), and reports what a point-day costs on disk and on
// the link.
func (r *Runner) storageLiveness(ctx context.Context, sec *Section) error {
	const db = "bench_liveness"
	if err := r.ch.freshDatabase(ctx, db); err != nil {
		return err
	}
	defer r.ch.dropDatabase(db)
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database = r.ch.addr, db
	st := store.New(cfg, nil)
	if err := st.Open(ctx); err != nil {
		return err
	}
	defer st.Close()
	ids := make([]string, livenessPoints)
	for i := range ids {
		ids[i] = fmt.Sprintf("T%04d.LT", i) // a typical 位号
	}
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	wire := 0
	for h := range 24 {
		b := &store.Batch{SiteID: "BENCH01", Seq: uint64(h + 1)}
		for m := range 60 {
			l := &lifelinev1.Liveness{MinuteNs: day.Add(time.Duration(h*60+m) * time.Minute).UnixNano(), PointIds: ids}
			b.Liveness = append(b.Liveness, l)
			wire += proto.Size(l)
		}
		if err := st.Insert(ctx, []*store.Batch{b}); err != nil {
			return fmt.Errorf("store liveness: %w", err)
		}
	}
	conn, err := r.ch.open(db)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "OPTIMIZE TABLE point_liveness FINAL"); err != nil {
		return err
	}
	var rows, bytes uint64
	if err := conn.QueryRow(ctx, "SELECT sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = ? AND table = 'point_liveness' AND active", db).
		Scan(&rows, &bytes); err != nil {
		return err
	}
	if rows != 24*60*livenessPoints {
		return fmt.Errorf("point_liveness holds %d rows, want %d", rows, 24*60*livenessPoints)
	}
	sec.add(Row{Measure: "liveness of a steady point: `point_liveness` on disk", Value: float64(bytes) / livenessPoints, Unit: "bytes/point-day"})
	sec.add(Row{Measure: "liveness of a steady point: on the link (protobuf, before compression)", Value: float64(wire) / livenessPoints, Unit: "bytes/point-day"})
	sec.note("Liveness: %d points steady for a day, each listed in every minute's record (1,440 rows per point), stored through the aggregator's store and merged.", livenessPoints)
	return nil
}
