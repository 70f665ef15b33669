// Package forward reports a park's base data, real-time values, alarms and
// heartbeats from ClickHouse to provincial monitoring platforms, each in its
// own templated format, with a durable cursor per target.
//
// The store is the only source: nothing is read from the agents. Each
// target's progress (forward_cursors), the alarms it was sent
// (forward_alarms), what it will never be sent (forward_gaps) and the
// codes its province assigned (forward_codes) live in ClickHouse, so a
// restarted forwarder goes on where it stopped. See docs/forwarding.md.
package forward
