package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// unsettledInserts remembers inserts whose outcome the client never heard:
// a timeout or a cut connection after the rows were sent. The server may
// still be writing them; until it has finished, the ledger cannot say
// whether they are committed, and a retry that trusted it would store the
// rows twice (seen: a 1,000,000-row insert retried after a 300 ms read
// timeout ended as 2,000,000 rows). So every samples insert carries a query
// id, and the next insert first waits until none of the unsettled ids is
// running any more.
type unsettledInserts struct {
	mu  sync.Mutex
	ids map[string]time.Time
}

// unsettledPoll and unsettledWait pace and bound one wait; past the bound
// the insert fails as retryable and the writer tries again later.
const (
	unsettledPoll = 100 * time.Millisecond
	unsettledWait = 30 * time.Second
)

// tagInsert gives an insert a query id to find it in system.processes.
func tagInsert(ctx context.Context) (context.Context, string) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := "lifeline-insert-" + hex.EncodeToString(b[:])
	return clickhouse.Context(ctx, clickhouse.WithQueryID(id)), id
}

// note records the insert id if err leaves its outcome unknown: anything
// but an exception, which the server sends once it has stopped the query.
func (u *unsettledInserts) note(id string, err error) {
	if err == nil || ErrorCode(err) != 0 {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ids == nil {
		u.ids = map[string]time.Time{}
	}
	u.ids[id] = time.Now()
}

// wait returns once no unsettled insert runs on the server any more.
func (u *unsettledInserts) wait(ctx context.Context, conn driver.Conn) error {
	u.mu.Lock()
	ids := make([]string, 0, len(u.ids))
	for id := range u.ids {
		ids = append(ids, "'"+escapeString(id)+"'")
	}
	u.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	query := "SELECT query_id FROM system.processes WHERE query_id IN (" + strings.Join(ids, ",") + ")"
	deadline := time.Now().Add(unsettledWait)
	for {
		running, err := runningQueries(ctx, conn, query)
		if err != nil {
			return fmt.Errorf("insert: check earlier inserts: %w", err)
		}
		u.mu.Lock()
		for _, id := range ids {
			id = strings.Trim(id, "'")
			if _, still := running[id]; !still {
				delete(u.ids, id)
			}
		}
		u.mu.Unlock()
		if len(running) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("insert: %d earlier inserts whose reply was lost still run on the server", len(running))
		}
		t := time.NewTimer(unsettledPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func runningQueries(ctx context.Context, conn driver.Conn, query string) (map[string]struct{}, error) {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	running := map[string]struct{}{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		running[id] = struct{}{}
	}
	return running, rows.Err()
}
