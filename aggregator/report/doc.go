// Package report builds the daily report (日报) of a park or one enterprise:
// alarms, standing and unacknowledged alarms, bad actors, chattering, the
// online rate, gaps and out-of-service points, as HTML or PDF, and sends it
// on a daily schedule.
package report
