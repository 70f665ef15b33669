package dashboards_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lifeline-telemetry/lifeline/aggregator/grafana"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/dashboards"
)

// The user `readonly-users` writes runs every dashboard query and can
// neither write nor change the schema nor open another database.
func TestReadonlyUserRunsDashboardsOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := chtest.Private(t)
	admin, now, db := seededAt(t, ctx, srv.Addr())
	other := chtest.Database(t, srv.Addr())
	if err := admin.Exec(ctx, "CREATE TABLE "+other+".t (x UInt8) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}

	u := grafana.ReadonlyUser{Name: "lifeline_readonly", Password: "s3cret", Database: db, Networks: []string{"127.0.0.1/32", "::1"}}
	strict := grafana.ReadonlyUser{Name: "lifeline_strict", Password: "s3cret", Database: db, Networks: []string{"127.0.0.1"}, Readonly: 1}
	b1, err := grafana.ReadonlyUsersXML(strict)
	if err != nil {
		t.Fatal(err)
	}
	b, err := grafana.ReadonlyUsersXML(u)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(srv.UsersDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srv.UsersDir(), "lifeline.xml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srv.UsersDir(), "strict.xml"), b1, 0o644); err != nil {
		t.Fatal(err)
	}
	ro := readonlyConn(t, ctx, srv.Addr(), u)
	ro1 := readonlyConn(t, ctx, srv.Addr(), strict)

	ds, err := dashboards.Build(dashboards.Park{Name: parkA, Sites: []string{"ENT01", "ENT02"}},
		dashboards.Options{DatasourceUID: "lifeline-clickhouse"})
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, d := range ds {
		vars := map[string][]string{"park": {parkA}, "site": {"ENT01"}, "hazard": {"HZ-01"}, "point": {"T101.LT"}, "ack_overdue_min": {"15"}}
		for _, q := range d.Queries() {
			// the plugin sets max_execution_time with each query: readonly = 2 must allow it
			qctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_execution_time": 30}))
			runWith(t, qctx, ro, now, vars, q)
			runWith(t, ctx, ro1, now, vars, q) // readonly = 1: no per-query settings
			ran++
		}
	}
	t.Logf("%d dashboard queries ran as %s", ran, u.Name)

	for _, stmt := range []string{
		"INSERT INTO samples (site_id, point_id) VALUES ('X', 'Y')",
		"ALTER TABLE samples DELETE WHERE 1",
		"ALTER TABLE sites ADD COLUMN evil String",
		"DROP TABLE sites",
		"TRUNCATE TABLE gaps",
		"CREATE TABLE evil (x UInt8) ENGINE = Memory",
		"SET readonly = 0",
		"SELECT count() FROM " + other + ".t",
	} {
		if err := ro.Exec(ctx, stmt); err == nil {
			t.Errorf("the read-only user may %s", stmt)
		} else if !strings.Contains(err.Error(), "readonly") && !strings.Contains(err.Error(), "Access denied") {
			t.Errorf("%s refused for another reason: %v", stmt, err)
		}
	}
	for _, f := range []string{"url('http://127.0.0.1:1/', CSV, 'x String')", "remote('127.0.0.1', system.one)"} {
		if err := ro1.Exec(ctx, "SELECT * FROM "+f); err == nil || !strings.Contains(err.Error(), "readonly") {
			t.Errorf("readonly = 1 let %s through: %v", f, err)
		}
	}
	var n uint64
	if err := admin.QueryRow(ctx, "SELECT count() FROM sites FINAL").Scan(&n); err != nil || n != 3 {
		t.Errorf("sites after the attempts: %d, %v", n, err)
	}
}

// readonlyConn logs in as u once ClickHouse has read the users.d file (it
// reloads users within a few seconds, no restart).
func readonlyConn(t *testing.T, ctx context.Context, addr string, u grafana.ReadonlyUser) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr},
		Auth: clickhouse.Auth{Database: u.Database, Username: u.Name, Password: u.Password}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := conn.Ping(ctx)
		if err == nil {
			return conn
		}
		if time.Now().After(deadline) {
			t.Fatalf("log in as %s: %v", u.Name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Why there are no per-park ClickHouse users: 18.16 accepts the users.xml
// row filter (<databases><db><table><filter>) and ignores it. When this
// fails, the server filters rows and per-park users become possible.
func TestUsersXMLRowFilterIgnoredOn1816(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := chtest.Private(t)
	admin, _, db := seededAt(t, ctx, srv.Addr())
	ver, err := admin.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if ver.Version.Major != 18 {
		t.Skipf("ClickHouse %s: the 18.16 limitation does not apply", ver.Version)
	}
	u := grafana.ReadonlyUser{Name: "park_a", Password: "s3cret", Database: db, Networks: []string{"127.0.0.1"}}
	b, err := grafana.ReadonlyUsersXML(u)
	if err != nil {
		t.Fatal(err)
	}
	filter := "<databases><" + db + "><sites><filter>park = 'OtherPark'</filter></sites></" + db + "></databases>"
	b = []byte(strings.Replace(string(b), "</allow_databases>", "</allow_databases>\n"+filter, 1))
	if err := os.MkdirAll(srv.UsersDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srv.UsersDir(), "park.xml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	conn := readonlyConn(t, ctx, srv.Addr(), u)
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM sites FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("ClickHouse %s filtered sites to %d rows: per-park users are possible now", ver.Version, n)
	}
}
