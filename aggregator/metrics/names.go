// Package metrics names every Prometheus metric the aggregator exports, so
// that code, dashboards and docs/metrics.md speak of the same series.
package metrics

// Ingest: agents' streams and the batches they carry (aggregator/ingest).
const (
	IngestStreams                 = "lifeline_ingest_streams"
	IngestBatchesTotal            = "lifeline_ingest_batches_total"
	IngestSamplesTotal            = "lifeline_ingest_samples_total"
	IngestRejectedSamplesTotal    = "lifeline_ingest_rejected_samples_total"
	IngestDuplicateSamplesTotal   = "lifeline_ingest_duplicate_samples_total"
	IngestAckLatencySeconds       = "lifeline_ingest_ack_latency_seconds"
	IngestSetAsideSamplesTotal    = "lifeline_ingest_set_aside_samples_total"
	IngestNacksTotal              = "lifeline_ingest_nacks_total"
	IngestSiteInUseRefusalsTotal  = "lifeline_ingest_site_in_use_refusals_total"
	IngestBufferBehindLedgerTotal = "lifeline_ingest_buffer_behind_ledger_total"
	IngestStreamRefusalsTotal     = "lifeline_ingest_stream_refusals_total"
	IngestUnidentifiedStreams     = "lifeline_ingest_unidentified_streams"
	IngestPanicsTotal             = "lifeline_ingest_panics_total"
	IngestHeartbeatsDroppedTotal  = "lifeline_ingest_heartbeats_dropped_total"
	IngestRejectedGapsTotal       = "lifeline_ingest_rejected_gaps_total"
	IngestSiteConnected           = "lifeline_ingest_site_connected"
)

// Writer: inserts into ClickHouse (aggregator/writer).
const (
	WriterInsertsTotal          = "lifeline_writer_inserts_total"
	WriterRowsTotal             = "lifeline_writer_rows_total"
	WriterInsertErrorsTotal     = "lifeline_writer_insert_errors_total"
	WriterPendingRows           = "lifeline_writer_pending_rows"
	WriterInsertDurationSeconds = "lifeline_writer_insert_duration_seconds"
	WriterLastInsertSeconds     = "lifeline_writer_last_insert_timestamp_seconds"
	WriterQueueWaitSeconds      = "lifeline_writer_queue_wait_seconds"
	WriterTurnWaitSeconds       = "lifeline_writer_turn_wait_seconds"
)

// Alarm: evaluation of committed samples (aggregator/alarm).
const (
	AlarmRaisedTotal          = "lifeline_alarm_raised_total"
	AlarmClearedTotal         = "lifeline_alarm_cleared_total"
	AlarmQueuedSamples        = "lifeline_alarm_queued_samples"
	AlarmDroppedBatchesTotal  = "lifeline_alarm_dropped_batches_total"
	AlarmReplayedBatchesTotal = "lifeline_alarm_replayed_batches_total"
	AlarmReadBackSites        = "lifeline_alarm_readback_sites"
	AlarmStoreWaitSeconds     = "lifeline_alarm_store_wait_seconds"
	AlarmWriteFailuresTotal   = "lifeline_alarm_write_failures_total"
)

// Report: the daily report schedule (aggregator/report).
const (
	ReportSentTotal     = "lifeline_report_sent_total"
	ReportFailuresTotal = "lifeline_report_failures_total"
)

// Link security: the agents' TLS link (aggregator/ingest).
const (
	IngestTLSRefusedTotal   = "lifeline_ingest_tls_refused_total"
	IngestTLSRevokedSerials = "lifeline_ingest_tls_revoked_serials"
	IngestInsecure          = "lifeline_ingest_insecure"
)

// Notify: alarm notifications (aggregator/notify).
const (
	NotifySentTotal       = "lifeline_notify_sent_total"
	NotifyFailedTotal     = "lifeline_notify_failed_total"
	NotifySuppressedTotal = "lifeline_notify_suppressed_total"
	NotifyOutboxPending   = "lifeline_notify_outbox_pending"
)

// Forward: reporting to provincial platforms (aggregator/forward).
const (
	ForwardSentTotal        = "lifeline_forward_sent_total"
	ForwardFailedTotal      = "lifeline_forward_failed_total"
	ForwardLagSeconds       = "lifeline_forward_lag_seconds"
	ForwardCursorAgeSeconds = "lifeline_forward_cursor_age_seconds"
	ForwardBacklogSeconds   = "lifeline_forward_backlog_seconds"
)

// Go runtime: the series of the Go collector that aggregator/memwatch reads
// (registered in aggregator/service with memwatch.RuntimeMetrics).
const (
	GoGCCPUSecondsTotal   = "go_cpu_classes_gc_total_cpu_seconds_total"
	GoCPUSecondsTotal     = "go_cpu_classes_total_cpu_seconds_total"
	GoIdleCPUSecondsTotal = "go_cpu_classes_idle_cpu_seconds_total"
	GoHeapLiveBytes       = "go_gc_heap_live_bytes"
	GoMemoryLimitBytes    = "go_gc_gomemlimit_bytes"
)
