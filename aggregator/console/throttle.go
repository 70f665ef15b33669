package console

import (
	"sync"
	"time"
)

// Login throttling: after maxFailures wrong passwords for a name, that
// name is refused for lockout, whatever the password. bcrypt alone makes
// each guess cost ~50 ms; this makes a dictionary against one operator
// take years.
const (
	maxFailures  = 5
	lockout      = time.Minute
	maxThrottled = 10000 // names tracked; beyond it the table starts afresh
)

type throttle struct {
	mu    sync.Mutex
	fails map[string]failures
}

type failures struct {
	n     int
	until time.Time
}

func newThrottle() *throttle { return &throttle{fails: map[string]failures{}} }

// locked says whether name is locked out at now.
func (t *throttle) locked(name string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return now.Before(t.fails[name].until)
}

// failed counts a wrong password for name.
func (t *throttle) failed(name string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fails) >= maxThrottled {
		t.fails = map[string]failures{}
	}
	f := t.fails[name]
	f.n++
	if f.n >= maxFailures {
		f.n, f.until = 0, now.Add(lockout)
	}
	t.fails[name] = f
}

// succeeded forgets name's failures.
func (t *throttle) succeeded(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, name)
}
