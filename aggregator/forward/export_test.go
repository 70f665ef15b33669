package forward

// SetAlarmPage sets how many alarm rows one read returns, until the
// returned func restores it.
func SetAlarmPage(n int) (restore func()) {
	old := alarmPage
	alarmPage = n
	return func() { alarmPage = old }
}
