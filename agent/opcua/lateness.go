package opcua

import "time"

// How late a subscription may be. Publish requests belong to the session,
// not to a subscription: a server with several subscriptions of one
// session answers them in turn as requests come, and one with a backlog
// (large responses, MoreNotifications) can hold the others back for a
// while. OPC UA promises a keep-alive every keep-alive period only when a
// publish request is there to carry it; what bounds a subscription's
// silence is its lifetime (publishing interval × lifetime count), after
// which the server itself gives it up. So a session that goes quiet is
// judged by the watchdog (three keep-alive periods, through the publish
// requests' timeout), and one subscription silent while the others answer
// by its lifetime. Time the reader itself spends not asking (its sink
// holding it while the disk buffer catches up, an update of the monitored
// items) counts against neither.

// silenceFor is how long a subscription may go without a publish response
// while the session's other subscriptions answer: its lifetime, and never
// less than the watchdog.
func silenceFor(publishing time.Duration, keepAliveCount, lifetimeCount uint32) time.Duration {
	return max(watchdogFor(publishing, keepAliveCount), publishing*time.Duration(lifetimeCount))
}

// excuse moves every subscription's last response d later: the reader was
// busy for d and asked the server for nothing new meanwhile.
func (s *subscriptions) excuse(d time.Duration) {
	s.heard = s.heard.Add(d)
	for _, sub := range s.subs {
		sub.last = sub.last.Add(d)
	}
}
