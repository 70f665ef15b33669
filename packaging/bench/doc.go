// Package bench runs Lifeline's load runs for `make bench`: the aggregator
// under K concurrent agents beside the raw clickhouse-go insert limit, the
// agent reading plantsim, the Badger queue beside raw Badger, a backlog
// drain, storage per sample and dashboard query latencies. Every part is a
// real process or a real server on loopback; figures that are compared are
// measured in the same run, since absolute figures drift from one machine
// (and one minute) to the next.
package bench
