// Package alarm evaluates alarms in the aggregator: analog limits
// HH/H/L/LL and gas detector stages with deadband and on/off delays, bad
// quality, stale points and site communication loss, on every committed
// sample in source-time order.
//
// The Evaluator is a writer.CommitObserver: the Writer hands it each group
// of batches after ClickHouse committed it. Committed never blocks; the
// queue is bounded in samples, and a batch that does not fit is read back
// from ClickHouse by its sequence number. The state machines go to
// alarm_state, then the events they decided to alarm_events (state first,
// the events riding in it: pending.go), so a restart writes what its
// checkpoint carries and re-evaluates the batches committed since: nothing
// is duplicated or lost, whatever order the batches are read back in.
//
// The semantics are documented in docs/schema.md, section "Alarms".
package alarm
