// Package store writes Lifeline's telemetry to ClickHouse: schema, capability
// detection, columnar batched inserts and the committed-batch ledger.
//
// One schema definition serves every server version: table and column names
// are the same everywhere (they are public API for analysts), and column
// types and options follow the server's Capabilities (DateTime64, CODECs and
// LowCardinality where available; DateTime and plain String on 18.16).
//
// A batch is committed when its sequence number is in ingest_batches. The
// ledger is written by a materialized view in the same INSERT as the samples,
// after them, so "seq in ledger" implies "rows in samples". Samples are kept
// in a ReplacingMergeTree keyed by (site_id, point_id, ts_ns): a batch sent
// again after a lost ack collapses on merge, and exact counts use FINAL.
package store
