package writer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"

	"google.golang.org/protobuf/proto"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/writer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// marker is a value the test's guard column makes ClickHouse refuse.
const marker = -999.25

// guardSamples makes the real server refuse, for good, any insert holding
// a sample whose value is marker: a MATERIALIZED column computed on insert
// throws (code 395) before any part is written.
func guardSamples(t *testing.T, s *store.Store) {
	t.Helper()
	q := fmt.Sprintf("ALTER TABLE samples ADD COLUMN guard UInt8 MATERIALIZED throwIf(value = %v)", marker)
	if err := chtest.Conn(t, s.Config().Addr, s.Config().Database).Exec(context.Background(), q); err != nil {
		t.Fatal(err)
	}
}

// One batch with a value ClickHouse refuses, among the batches of three
// sites in the same inserts: its refused row is set aside with the reason
// and payload, every other row (its own batch's too) is committed, and no
// site waits.
func TestRefusedRowsSetAsideOthersCommit(t *testing.T) {
	s := storetest.Open(t)
	guardSamples(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := writer.New(s, writer.Options{MaxRows: 100_000, MaxDelay: 100 * time.Millisecond}, nil)
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(ctx) }()

	const perSite, size = 5, 100
	outcome := submitWithOneRefused(t, ctx, w, perSite, size)
	for key, err := range outcome {
		var aside *store.SetAsideError
		switch {
		case key == "A/3":
			if !errors.As(err, &aside) || aside.Samples != 1 {
				t.Errorf("A/3: got %v, want 1 sample set aside", err)
			}
		case err != nil:
			t.Errorf("%s: %v", key, err)
		}
	}
	cancel()
	<-runDone

	bg := context.Background()
	var rows uint64
	if err := chtest.Conn(t, s.Config().Addr, s.Config().Database).QueryRow(bg, "SELECT count() FROM samples").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if want := uint64(3*perSite*size - 1); rows != want {
		t.Fatalf("samples: %d rows, want %d", rows, want)
	}
	for _, site := range []string{"A", "B", "C"} {
		got, err := s.Committed(bg, store.Span{SiteID: site, From: 1, To: perSite})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].GetFirst() != 1 || got[0].GetLast() != perSite {
			t.Errorf("%s committed %v, want 1..%d", site, got, perSite)
		}
	}
	checkSetAsideRecord(t, s)

	// Once the cause is fixed, the row goes in, exactly once.
	checkReinjectedOnce(t, s, uint64(3*perSite*size))
}

// submitWithOneRefused submits perSite batches of size samples for sites A,
// B and C, sample 37 of A/3 carrying the refused marker, and returns each
// batch's outcome ("A/3" → error). It fails if they do not all settle in
// 30 s: one refused batch must not stall the writer.
func submitWithOneRefused(t *testing.T, ctx context.Context, w *writer.Writer, perSite, size int) map[string]error {
	t.Helper()
	var mu sync.Mutex
	outcome := map[string]error{}
	var wg sync.WaitGroup
	for _, site := range []string{"A", "B", "C"} {
		for _, b := range storetest.Batches(site, 1, perSite, size) {
			if site == "A" && b.Seq == 3 {
				b.Samples[37].Value = &lifelinev1.Sample_Number{Number: marker}
			}
			key := fmt.Sprintf("%s/%d", site, b.Seq)
			wg.Add(1)
			if err := w.Submit(ctx, b, func(err error) {
				defer wg.Done()
				mu.Lock()
				outcome[key] = err
				mu.Unlock()
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		mu.Lock()
		t.Fatalf("after 30 s only %d of %d batches settled: one refused batch stalls the writer", len(outcome), 3*perSite)
	}
	return outcome
}

// checkSetAsideRecord checks that A/3's refused row is recorded in
// rejected_batches with ClickHouse's error code and a payload holding
// exactly that sample, so it can be reinjected.
func checkSetAsideRecord(t *testing.T, s *store.Store) {
	t.Helper()
	var (
		state, reason, payload string
		code                   int32
		n                      uint32
	)
	if err := chtest.Conn(t, s.Config().Addr, s.Config().Database).QueryRow(context.Background(), `SELECT toString(state), reason, error_code, samples, payload
FROM rejected_batches FINAL WHERE site_id = 'A' AND seq = 3`).Scan(&state, &reason, &code, &n, &payload); err != nil {
		t.Fatal(err)
	}
	var pb lifelinev1.Batch
	if err := proto.Unmarshal([]byte(payload), &pb); err != nil {
		t.Fatal(err)
	}
	if state != store.RejectSetAside || code != 395 || n != 1 || len(pb.GetSamples()) != 1 ||
		pb.GetSamples()[0].GetNumber() != marker || pb.GetSeq() != 3 {
		t.Fatalf("record: state %s code %d samples %d payload %v (reason %q)", state, code, n, pb.GetSamples(), reason)
	}
}

// checkReinjectedOnce drops the guard, reinjects A/3 twice and checks that
// only the first stores its row, leaving want rows in samples.
func checkReinjectedOnce(t *testing.T, s *store.Store, want uint64) {
	t.Helper()
	bg := context.Background()
	conn := chtest.Conn(t, s.Config().Addr, s.Config().Database)
	if err := conn.Exec(bg, "ALTER TABLE samples DROP COLUMN guard"); err != nil {
		t.Fatal(err)
	}
	stored, err := s.Reinject(bg, "A", "", 3)
	if err != nil || stored != 1 {
		t.Fatalf("reinject: %d, %v", stored, err)
	}
	if _, err := s.Reinject(bg, "A", "", 3); !errors.Is(err, store.ErrNothingToReinject) {
		t.Fatalf("second reinject: %v", err)
	}
	var rows uint64
	if err := conn.QueryRow(bg, "SELECT count() FROM samples").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != want {
		t.Fatalf("after reinject: %d rows, want %d", rows, want)
	}
}

// When the refused rows cannot be recorded either, the batch is failed
// (its agent keeps it and sends it again), never dropped or acked, and the
// other batches still commit.
func TestRefusedBatchNotDroppedWhenSetAsideFails(t *testing.T) {
	s := storetest.Open(t)
	guardSamples(t, s)
	if err := chtest.Conn(t, s.Config().Addr, s.Config().Database).Exec(context.Background(), "RENAME TABLE rejected_batches TO rejected_away"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := writer.New(s, writer.Options{MaxDelay: 50 * time.Millisecond, RetryBackoff: 20 * time.Millisecond,
		MaxRetryBackoff: 100 * time.Millisecond, GiveUpAfter: 500 * time.Millisecond}, nil)
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(ctx) }()
	batches := storetest.Batches("A", 1, 3, 50)
	batches[1].Samples[3].Value = &lifelinev1.Sample_Number{Number: marker}
	outcome := make(chan error, len(batches))
	for _, b := range batches {
		if err := w.Submit(ctx, b, func(err error) { outcome <- err }); err != nil {
			t.Fatal(err)
		}
	}
	failed := 0
	for range batches {
		select {
		case err := <-outcome:
			var aside *store.SetAsideError
			if errors.As(err, &aside) {
				t.Fatalf("reported set aside although nothing could be recorded: %v", err)
			}
			if err != nil {
				failed++
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a batch was never settled")
		}
	}
	cancel()
	<-runDone
	if failed != 1 {
		t.Fatalf("%d batches failed, want 1", failed)
	}
	var rows uint64
	if err := chtest.Conn(t, s.Config().Addr, s.Config().Database).QueryRow(context.Background(), "SELECT count() FROM samples").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 100 {
		t.Fatalf("samples: %d rows, want the 100 of the two valid batches", rows)
	}
}
