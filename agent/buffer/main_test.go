package buffer

import (
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// badgerOpenFailureLeaks are goroutines Badger v4.9.6 leaves behind when
// badger.Open fails after starting its caches (its cleanup path does not stop
// them); the corruption tests provoke exactly that. TestNoLeakAfterClose
// checks the normal Open/Close cycle without these exceptions.
var badgerOpenFailureLeaks = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/dgraph-io/badger/v4.(*DB).monitorCache"),
	goleak.IgnoreTopFunction("github.com/dgraph-io/ristretto/v2/z.(*AllocatorPool).freeupAllocators"),
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, badgerOpenFailureLeaks...)
}

func TestNoLeakAfterClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	o := testOptions()
	o.GCInterval = 10 * time.Millisecond // let the maintenance loop run
	q, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, q, []byte("x"))
	time.Sleep(50 * time.Millisecond)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
}

func testLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
