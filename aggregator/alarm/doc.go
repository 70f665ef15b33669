// Package alarm evaluates alarms in the aggregator: analog limits
// HH/H/L/LL and gas detector stages with deadband and on/off delays, bad
// quality, stale points and site communication loss, on every committed
// sample in source-time order.
//
// The Evaluator is a writer.CommitObserver: the Writer hands it each group
// of batches after ClickHouse committed it. Committed never blocks; the
// queue is bounded in samples, and a batch that does not fit is read back
// from ClickHouse by its sequence number. Events go to alarm_events, the
// state machines to alarm_state (events first), so a restart resumes from
// the checkpoint and re-evaluates the batches committed since: rows are
// keyed by what raised them, so nothing is duplicated or lost.
//
// The semantics are documented in docs/schema.md, section "Alarms".
package alarm
