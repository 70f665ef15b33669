package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"sync"
	"time"
)

// session is one login: its cookie's token maps to it. csrf must come
// back in a header with every state-changing request.
type session struct {
	user, park string
	csrf       string
	proxied    bool
	expires    time.Time
}

// sessions holds the logins in memory: a restart logs everyone out,
// which for a console of a few operators per park is acceptable.
type sessions struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]*session
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{ttl: ttl, m: map[string]*session{}}
}

func token() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// create starts a session and returns its cookie token. Expired sessions
// are dropped here, so the map holds no more than the live ones plus
// those expired since the last login.
func (s *sessions) create(u user, proxied bool, now time.Time) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	t := token()
	sess := &session{user: u.name, park: u.park, csrf: token(), proxied: proxied, expires: now.Add(s.ttl)}
	s.m[t] = sess
	return t, sess
}

// get returns the live session of token, or nil.
func (s *sessions) get(token string, now time.Time) *session {
	if token == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.m[token]
	if sess == nil || now.After(sess.expires) {
		delete(s.m, token)
		return nil
	}
	return sess
}

func (s *sessions) drop(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, token)
}

// csrfOK compares in constant time.
func (sess *session) csrfOK(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) == 1
}
