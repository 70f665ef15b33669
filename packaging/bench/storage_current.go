package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chdbtest"
)

// currentStorageTarget is the bar for samples on a current ClickHouse,
// whose column codecs apply (bytes per sample).
const currentStorageTarget = 2.0

// sampleColumns are the samples columns copied from 18.16 to ClickHouse 26,
// with their types in the copy file; ts is rebuilt from ts_ns (18.16 keeps
// whole seconds in it).
const sampleColumns = "site_id String, point_id String, ts_ns Int64, server_ns Int64, recv_ns Int64, value Float64, " +
	"value_text String, value_type String, status UInt32, good UInt8, seq UInt64, backfill UInt8, buffer_id String, inserted_at DateTime('UTC')"

// storageCurrent copies the plantsim samples into ClickHouse 26 (chdb, in
// process), whose schema the store's Migrate made for a current server,
// and reports its bytes per sample beside 18.16's; then it measures the
// codec candidates of each column on the same rows.
func (r *Runner) storageCurrent(ctx context.Context, sec *Section, conn driver.Conn) error {
	sess, err := chdbtest.Start(filepath.Join(r.dir, "chdb"))
	if errors.Is(err, chdbtest.ErrMissing) {
		sec.note("ClickHouse 26 figures need chdb (make chdb): %v", err)
		return nil
	}
	if err != nil {
		return err
	}
	cur := chdbtest.NewConn(sess)
	st := store.New(store.DefaultConfig(), nil)
	defer st.Close() // closes cur
	if err := st.Attach(ctx, cur); err != nil {
		return err
	}
	file := filepath.Join(r.dir, "samples.tsv")
	n, err := exportSamples(ctx, conn, r.agentDB, file)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := cur.Exec(ctx, `INSERT INTO samples (site_id, point_id, ts, ts_ns, server_ns, recv_ns, value, value_text,
    value_type, status, good, seq, backfill, buffer_id, inserted_at)
SELECT site_id, point_id, fromUnixTimestamp64Nano(ts_ns, 'UTC'), ts_ns, server_ns, recv_ns, value, value_text,
    value_type, status, good, seq, backfill, buffer_id, inserted_at
FROM file(`+quoteSQL(file)+`, 'TabSeparated', `+quoteSQL(sampleColumns)+`)`); err != nil {
		return fmt.Errorf("load samples: %w", err)
	}
	r.opts.Logf("storage: %d samples into ClickHouse 26 in %s", n, time.Since(start).Round(time.Second))
	version := st.Capabilities().Version
	if err := storagePerSample(ctx, cur, "default", sec, "ClickHouse "+version+" (chdb)", currentStorageTarget); err != nil {
		return err
	}
	sec.note("ClickHouse %s (chdb, in process): the same %s samples, loaded in one INSERT into the schema the store's Migrate makes for a current server (DateTime64, column codecs, TTL); the rollups and the ledger are filled by its views from that INSERT.", version, human(float64(n)))
	sec.note("The ≤ 2 bytes/sample bar for current servers is out of reach of the codecs they ship as stable: each plantsim value (a sine plus Gaussian noise of σ 0.5, rounded to 0.001) carries about 11 bits of noise, log2(0.5·√(2πe)/0.001), so 1.4 bytes/sample before any other column; ZSTD stores it in about 3.6, the experimental ALP codec in 2.2. The schema keeps to stable codecs: Delta + ZSTD on the times and seq, ZSTD(3) on values (ZSTD(6) saves 5 %% more for more merge CPU).")
	return codecTrials(ctx, cur, sec)
}

// exportSamples writes the samples of db to file as TabSeparated text and
// returns how many it wrote.
func exportSamples(ctx context.Context, conn driver.Conn, db, file string) (int, error) {
	rows, err := conn.Query(ctx, `SELECT site_id, point_id, ts_ns, server_ns, recv_ns, value, value_text, toString(value_type),
    status, good, seq, backfill, buffer_id, inserted_at FROM `+db+`.samples`)
	if err != nil {
		return 0, fmt.Errorf("export samples: %w", err)
	}
	defer rows.Close()
	f, err := os.Create(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var (
		site, point, text, vtype, buffer string
		tsNs, serverNs, recvNs           int64
		value                            float64
		status                           uint32
		good, backfill                   uint8
		seq                              uint64
		inserted                         time.Time
	)
	n := 0
	for rows.Next() {
		if err := rows.Scan(&site, &point, &tsNs, &serverNs, &recvNs, &value, &text, &vtype, &status, &good, &seq, &backfill, &buffer, &inserted); err != nil {
			return n, fmt.Errorf("export samples: %w", err)
		}
		fields := []string{tsv(site), tsv(point), strconv.FormatInt(tsNs, 10), strconv.FormatInt(serverNs, 10),
			strconv.FormatInt(recvNs, 10), tsvFloat(value), tsv(text), vtype, strconv.FormatUint(uint64(status), 10),
			strconv.Itoa(int(good)), strconv.FormatUint(seq, 10), strconv.Itoa(int(backfill)), tsv(buffer),
			inserted.UTC().Format(time.DateTime)}
		w.WriteString(strings.Join(fields, "\t"))
		w.WriteByte('\n')
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("export samples: %w", err)
	}
	if err := w.Flush(); err != nil {
		return n, err
	}
	return n, f.Close()
}

var tsvEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`)

func tsv(s string) string { return tsvEscaper.Replace(s) }

func tsvFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func quoteSQL(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
