package writer

import (
	"fmt"
	"time"
)

// Stalled returns an error when the writer is stuck: rows wait, and for
// longer than limit neither has Run come round nor has an insert attempt
// ended. An idle writer is never stalled, and neither is one retrying a
// ClickHouse that fails, as long as each attempt ends (the store's read
// timeout bounds one); limit must exceed that bound plus MaxRetryBackoff.
func (w *Writer) Stalled(limit time.Duration) error {
	turned := w.turned.Load()
	rows := w.pendingRows()
	if turned == 0 || rows == 0 {
		return nil
	}
	if age := time.Since(time.Unix(0, turned)); age > limit {
		return fmt.Errorf("%d rows pending and no insert attempt ended for %s (limit %s)", rows, age.Round(time.Second), limit)
	}
	return nil
}
