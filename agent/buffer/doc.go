// Package buffer is the agent's durable queue: encoded sample batches in Badger,
// keyed by sequence number, deleted only after the aggregator acknowledges them.
package buffer
