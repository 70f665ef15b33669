// Package notify pages people about alarms: it reads alarm_events from the
// store, routes each alarm to recipients by rules with escalation steps,
// summarises floods and back-filled alarms, and delivers through a
// durable outbox in ClickHouse so that a crash neither loses nor repeats
// a notification (see docs/alarms.md, "Notifications").
package notify
