package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

const (
	trendTarget = 200 * time.Millisecond
	queryPark   = "BENCHPARK"
	trendSite   = "Q00"
	trendPoint  = "P00001"
)

// query fills a database with 30 days of one enterprise (one point at
// 1 Hz, 99 at one sample a minute) and the last hour of nine more, then
// times the 30-day 1-minute trend of the 1 Hz point and the park overview.
func (r *Runner) query(ctx context.Context, sec *Section) error {
	const db = "lifeline_bench_query"
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

	days := 30
	if r.opts.Short {
		days = 3
	}
	end := time.Now().Truncate(time.Minute)
	from := end.Add(-time.Duration(days) * 24 * time.Hour)
	r.opts.Logf("query: writing %d days of data", days)
	rows, err := fillQueryData(ctx, st, from, end)
	if err != nil {
		return err
	}
	conn, err := r.ch.open(db)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := storagePerSample(ctx, conn, db, sec, fmt.Sprintf("%d-day dataset", days), 0); err != nil {
		return err
	}

	trend := fmt.Sprintf(`SELECT toDateTime(intDiv(toUInt32(ts), 60) * 60) AS time, avg(value) AS avg_value, min(value) AS low, max(value) AS high
FROM samples
WHERE site_id = '%s' AND point_id = '%s' AND ts >= toDateTime(%d) AND ts <= toDateTime(%d)
  AND value_type = 'number' AND good = 1
GROUP BY time ORDER BY time`, trendSite, trendPoint, from.Unix(), end.Unix())
	p50, n, err := timeQuery(ctx, conn, trend)
	if err != nil {
		return fmt.Errorf("trend: %w", err)
	}
	sec.add(Row{Measure: fmt.Sprintf("%d-day trend of one 1 Hz point, 1-minute buckets, from raw samples (%s rows out), p50", days, human(float64(n))),
		Value: ms(p50), Unit: "ms", Target: "< 200", Met: atMost(ms(p50), ms(trendTarget)-0.001)})

	rollup := fmt.Sprintf(`SELECT toDateTime(intDiv(toUInt32(bucket), 60) * 60) AS time,
    sumMerge(sum_value) / sumMerge(numeric) AS avg_value, minMerge(min_value) AS low, maxMerge(max_value) AS high
FROM samples_1m
WHERE site_id = '%s' AND point_id = '%s' AND bucket >= toDateTime(%d) AND bucket <= toDateTime(%d)
GROUP BY time ORDER BY time`, trendSite, trendPoint, from.Unix(), end.Unix())
	if p50r, n, err := timeQuery(ctx, conn, rollup); err != nil {
		sec.note("The same trend from the minute rollup `samples_1m` was not measured: %v", firstLine(err))
	} else {
		sec.add(Row{Measure: fmt.Sprintf("the same trend from the minute rollup `samples_1m` (%s rows out), p50", human(float64(n))),
			Value: ms(p50r), Unit: "ms", Target: "< 200", Met: atMost(ms(p50r), ms(trendTarget)-0.001),
			Versus: fmt.Sprintf("from raw samples %s ms", human(ms(p50))), Ratio: ms(p50r) / ms(p50)})
	}

	overview, err := dashboardSQL(r.opts.RepoDir, "overview_sites.sql", map[string]string{"park": queryPark},
		end.Add(-time.Hour), end, time.Minute)
	if err != nil {
		sec.note("Park overview not measured: %v", err)
	} else if p50o, n, err := timeQuery(ctx, conn, overview); err != nil {
		sec.note("Park overview not measured: %v", firstLine(err))
	} else {
		sec.add(Row{Measure: fmt.Sprintf("park overview (dashboards/sql/overview_sites.sql, last hour, %d enterprises), p50", n),
			Value: ms(p50o), Unit: "ms"})
	}
	sec.note("Data: %s rows through the aggregator's Store.Insert; enterprise %s has %s at 1 Hz and 99 points at one sample a minute for %d days, enterprises Q01–Q09 have 100 points every 10 s for the last hour; all tables merged (OPTIMIZE FINAL) before timing. Latency: p50 of %d runs after one warm-up, every row read by the client.",
		human(float64(rows)), trendSite, trendPoint, days, queryRuns)
	return nil
}

const queryRuns = 15

// timeQuery runs q queryRuns times after a warm-up, reading every row, and
// returns the median latency and the row count.
func timeQuery(ctx context.Context, conn driver.Conn, q string) (time.Duration, int, error) {
	var ds []time.Duration
	var n int
	for i := range queryRuns + 1 {
		start := time.Now()
		k, err := readAll(ctx, conn, q)
		if err != nil {
			return 0, 0, err
		}
		if i > 0 {
			ds = append(ds, time.Since(start))
		}
		n = k
	}
	return quantile(ds, 0.5), n, nil
}

func readAll(ctx context.Context, conn driver.Conn, q string) (int, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	dest := make([]any, len(types))
	for i, t := range types {
		dest[i] = reflect.New(t.ScanType()).Interface()
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// fillQueryData writes the query dataset and returns how many samples.
func fillQueryData(ctx context.Context, st *store.Store, from, end time.Time) (int, error) {
	const points = 100
	catalog := make([]*lifelinev1.Point, points)
	for i := range catalog {
		catalog[i] = &lifelinev1.Point{Id: pointID(i), Name: "点 " + pointID(i), Kind: "level", Unit: "m"}
	}
	for s := range 10 {
		if err := st.SaveCatalog(ctx, fmt.Sprintf("Q%02d", s), queryPark, "bench", catalog); err != nil {
			return 0, err
		}
	}
	w := &chunkWriter{st: st, samples: make([]*lifelinev1.Sample, 0, 100_000)}
	recv := end.UnixNano()
	w.site = trendSite
	for t := from; t.Before(end); t = t.Add(time.Minute) {
		for sec := range 60 {
			ts := t.Add(time.Duration(sec) * time.Second)
			w.add(trendPoint, ts.UnixNano(), recv, wave(ts, 0))
		}
		for p := 1; p < points; p++ {
			w.add(pointID(p), t.UnixNano(), recv, wave(t, p))
		}
		if err := w.flushIfFull(ctx); err != nil {
			return 0, err
		}
	}
	if err := w.flush(ctx); err != nil {
		return 0, err
	}
	for s := 1; s < 10; s++ {
		w.site = fmt.Sprintf("Q%02d", s)
		for t := end.Add(-time.Hour); t.Before(end); t = t.Add(10 * time.Second) {
			for p := range points {
				w.add(pointID(p), t.UnixNano(), recv, wave(t, p))
			}
		}
		if err := w.flush(ctx); err != nil {
			return 0, err
		}
	}
	return w.total, nil
}

func wave(t time.Time, p int) float64 {
	x := float64(t.Unix()%86400)/86400 + float64(p)/100
	return float64(int((50+40*x)*1000)) / 1000
}

// chunkWriter gathers samples of one site into batches of 2,000 and
// inserts 100,000 at a time, reusing the sample messages.
type chunkWriter struct {
	st      *store.Store
	site    string
	seq     uint64
	samples []*lifelinev1.Sample
	pool    []*lifelinev1.Sample
	total   int
}

func (w *chunkWriter) add(point string, ts, recv int64, v float64) {
	var s *lifelinev1.Sample
	if i := len(w.samples); i < len(w.pool) {
		s = w.pool[i]
	} else {
		s = &lifelinev1.Sample{Value: &lifelinev1.Sample_Number{}}
		w.pool = append(w.pool, s)
	}
	s.PointId, s.SourceTimeNs, s.ServerTimeNs, s.ReceiveTimeNs = point, ts, ts, recv
	s.Value.(*lifelinev1.Sample_Number).Number = v
	w.samples = append(w.samples, s)
}

func (w *chunkWriter) flushIfFull(ctx context.Context) error {
	if len(w.samples) < 100_000 {
		return nil
	}
	return w.flush(ctx)
}

func (w *chunkWriter) flush(ctx context.Context) error {
	var batches []*store.Batch
	for i := 0; i < len(w.samples); i += 2000 {
		w.seq++
		batches = append(batches, &store.Batch{SiteID: w.site, Seq: w.seq, Samples: w.samples[i:min(i+2000, len(w.samples))]})
	}
	if len(batches) > 0 {
		if err := w.st.Insert(ctx, batches); err != nil {
			return err
		}
	}
	w.total += len(w.samples)
	w.samples = w.samples[:0]
	return nil
}

// dashboardSQL reads a dashboard query and expands the variables and the
// Grafana ClickHouse plugin macros it uses for the given time range.
func dashboardSQL(repo, file string, vars map[string]string, from, to time.Time, interval time.Duration) (string, error) {
	data, err := os.ReadFile(filepath.Join(repo, "dashboards", "sql", file))
	if err != nil {
		return "", err
	}
	dt := func(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
	pairs := []string{
		"$__fromTime", dt(from), "$__toTime", dt(to),
		"$__interval_s", fmt.Sprint(int(interval.Seconds())),
	}
	for k, v := range vars {
		pairs = append(pairs, "${"+k+"}", v, "${"+k+":percentencode}", percentEncode(v))
	}
	sql := strings.NewReplacer(pairs...).Replace(string(data))
	// $__timeFilter(col) → col >= from AND col <= to
	for {
		i := strings.Index(sql, "$__timeFilter(")
		if i < 0 {
			break
		}
		j := strings.IndexByte(sql[i:], ')')
		if j < 0 {
			return "", fmt.Errorf("%s: unterminated $__timeFilter", file)
		}
		col := sql[i+len("$__timeFilter(") : i+j]
		sql = sql[:i] + fmt.Sprintf("%s >= %s AND %s <= %s", col, dt(from), col, dt(to)) + sql[i+j+1:]
	}
	if strings.Contains(sql, "$") {
		return "", fmt.Errorf("%s: unexpanded variables or macros remain", file)
	}
	return sql, nil
}

// percentEncode escapes a value as Grafana's percentencode format does: every
// byte but A-Z a-z 0-9 - _ . ~ as %XX, so that decodeURLComponent in the
// dashboards' SQL gets the value back whatever it holds.
func percentEncode(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
