package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// telegrafSetup is what one Telegraf run of the peer section is configured
// with: plantsim's load points in, one ClickHouse table out.
type telegrafSetup struct {
	Endpoint string   // opc.tcp://host:port
	Nodes    []string // OPC UA node IDs (nsu=…;s=…) of the load points
	// PerInput is the number of nodes per inputs.opcua_listener: Telegraf
	// opens one session and one subscription per plugin instance, so the
	// server's stated MaxMonitoredItemsPerSubscription is honoured by
	// splitting the nodes over several instances, as the agent splits them
	// over subscriptions. Each instance holds up to 100 publish responses
	// (of up to PerInput values) between its OPC UA client and Telegraf's
	// pipeline, and 100 metrics after them: a slow output shows as lag
	// first, and as loss inside the server once those are full.
	PerInput   int
	Publishing time.Duration // subscription_interval
	Sampling   time.Duration // monitoring_params.sampling_interval
	QueueSize  uint32        // monitoring_params.queue_size
	// Metric names the metric, hence the table outputs.sql writes to.
	Metric string
	DSN    string // clickhouse-go v2 DSN, clickhouse://host:port/database
	// Strategy is the output's buffer: "memory" or "disk" (a WAL in
	// BufferDir, fsync'd by default).
	Strategy    string
	BufferDir   string
	BatchSize   int           // metric_batch_size: rows per INSERT
	BufferLimit int           // metric_buffer_limit
	Flush       time.Duration // flush_interval
}

// telegrafConfig renders s as Telegraf's TOML configuration.
func telegrafConfig(s telegrafSetup) string {
	var b strings.Builder
	b.WriteString("# Written by lifeline-bench's peer section.\n[agent]\n")
	// interval only paces polled inputs; opcua_listener is a service input.
	b.WriteString("  interval = \"10s\"\n  round_interval = false\n")
	fmt.Fprintf(&b, "  metric_batch_size = %d\n  metric_buffer_limit = %d\n", s.BatchSize, s.BufferLimit)
	fmt.Fprintf(&b, "  flush_interval = %s\n  flush_jitter = \"0s\"\n", tomlString(s.Flush.String()))
	// Without omit_hostname every row carries a host tag, one more column.
	b.WriteString("  omit_hostname = true\n")
	fmt.Fprintf(&b, "  buffer_strategy = %s\n", tomlString(s.Strategy))
	if s.BufferDir != "" {
		fmt.Fprintf(&b, "  buffer_directory = %s\n", tomlString(s.BufferDir))
	}
	per := s.PerInput
	if per <= 0 {
		per = len(s.Nodes)
	}
	for i := 0; i < len(s.Nodes); i += per {
		b.WriteString("\n[[inputs.opcua_listener]]\n")
		fmt.Fprintf(&b, "  name = %s\n  endpoint = %s\n", tomlString(s.Metric), tomlString(s.Endpoint))
		// "auto" would make Telegraf generate a certificate and try the
		// secure policies first; plantsim offers None. Telegraf still warns
		// that its default /etc/telegraf/cert.pem is missing: harmless.
		b.WriteString("  security_policy = \"None\"\n  security_mode = \"None\"\n  auth_method = \"Anonymous\"\n")
		// Creating 2,500 monitored items on a loaded machine outlasts the
		// 5 s default request timeout.
		b.WriteString("  connect_timeout = \"30s\"\n  request_timeout = \"30s\"\n")
		fmt.Fprintf(&b, "  subscription_interval = %s\n", tomlString(s.Publishing.String()))
		// The source timestamp, as the agent stores it: the delivered
		// count is taken over a window of source time.
		b.WriteString("  timestamp = \"source\"\n")
		for _, node := range s.Nodes[i:min(i+per, len(s.Nodes))] {
			// One field name for every node: outputs.sql makes a column
			// per field, and the node is told apart by the id tag.
			// Telegraf allows the same field name under different ids.
			b.WriteString("  [[inputs.opcua_listener.nodes]]\n")
			fmt.Fprintf(&b, "    name = \"value\"\n    id = %s\n", tomlString(node))
			b.WriteString("    [inputs.opcua_listener.nodes.monitoring_params]\n")
			fmt.Fprintf(&b, "      sampling_interval = %s\n      queue_size = %d\n      discard_oldest = true\n",
				tomlString(s.Sampling.String()), s.QueueSize)
		}
	}
	b.WriteString("\n[[outputs.sql]]\n  driver = \"clickhouse\"\n")
	fmt.Fprintf(&b, "  data_source_name = %s\n", tomlString(s.DSN))
	// The table is made beforehand (telegrafTableSQL): the default
	// template's types (TIMESTAMP, TEXT, DOUBLE) are not ClickHouse's, and
	// its ENGINE-less CREATE TABLE fails on 18.16.
	b.WriteString("  timestamp_column = \"timestamp\"\n")
	// Without it outputs.sql sends every metric in a transaction of its
	// own: one INSERT, one part in ClickHouse, per row.
	b.WriteString("  batch_transactions = true\n")
	return b.String()
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// telegrafTableSQL creates the table outputs.sql writes metric into, in
// database db. ClickHouse 18.16 has no DateTime64, and DateTime keeps
// whole seconds, which would fold a point's ten changes a second into one
// time. clickhouse-go appends the time.Time outputs.sql passes to a String
// column through fmt.Stringer ("2006-01-02 15:04:05.999999999 -0700 MST",
// UTC from gopcua), so the timestamp is stored as that text, whole, and
// ts_ns is computed from it on insert: the seconds, then the fraction's
// digits padded to nine.
func telegrafTableSQL(db, metric string) string {
	return fmt.Sprintf(`CREATE TABLE %s.%s (
    timestamp String,
    id String,
    Quality String,
    value Float64,
    ts_ns Int64 MATERIALIZED toInt64(toDateTime(substring(timestamp, 1, 19), 'UTC')) * 1000000000
        + toInt64OrZero(substring(concat(extract(timestamp, '[.]([0-9]+) '), '000000000'), 1, 9))
) ENGINE = MergeTree() ORDER BY (id, ts_ns)`, db, metric)
}

// telegrafLog is what a Telegraf log says about a run.
type telegrafLog struct {
	// Dropped is the metrics the output's buffer dropped when full, from
	// the "Metric buffer overflow; N metrics have been dropped" warnings.
	Dropped uint64
	// Errors counts the error lines ("E! …"); FirstError is the first.
	Errors     int
	FirstError string
}

// parseTelegrafLog reads Telegraf's log lines (its default format:
// "2006-01-02T15:04:05Z E! [plugin] message").
func parseTelegrafLog(log string) telegrafLog {
	var t telegrafLog
	for line := range strings.SplitSeq(log, "\n") {
		if _, rest, ok := strings.Cut(line, "Metric buffer overflow; "); ok {
			if n, _, ok := strings.Cut(rest, " "); ok {
				if v, err := strconv.ParseUint(n, 10, 64); err == nil {
					t.Dropped += v
				}
			}
		}
		if f := strings.Fields(line); len(f) >= 2 && f[1] == "E!" {
			t.Errors++
			if t.FirstError == "" {
				t.FirstError = strings.Join(f[2:], " ")
			}
		}
	}
	return t
}
