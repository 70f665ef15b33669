package forward

// SetAlarmPage sets how many alarm rows one read returns, and one read a
// pass, until the returned func restores them.
func SetAlarmPage(n int) (restore func()) {
	oldPage, oldPages := alarmPage, alarmPages
	alarmPage, alarmPages = n, 1
	return func() { alarmPage, alarmPages = oldPage, oldPages }
}
