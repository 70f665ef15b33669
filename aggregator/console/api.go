package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"
	"unicode/utf8"
)

// maxBody bounds a request's JSON: a cause and measures fit many times.
const maxBody = 64 << 10

type ctxSession struct {
	token string
	*session
}

// sessionInfo is what the page needs to know about its login.
type sessionInfo struct {
	LoggedIn     bool   `json:"logged_in"`
	User         string `json:"user"`
	Park         string `json:"park"`
	CSRF         string `json:"csrf"`
	Proxied      bool   `json:"proxied"`
	MaxShelveMin int64  `json:"max_shelve_min"`
}

func (s *Server) info(sess *session) sessionInfo {
	return sessionInfo{LoggedIn: true, User: sess.user, Park: sess.park, CSRF: sess.csrf, Proxied: sess.proxied,
		MaxShelveMin: int64(s.cfg.MaxShelve / time.Minute)}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		fail(w, http.StatusBadRequest, "bad request body")
		return false
	}
	return true
}

// getSession tells the page who is logged in, if anyone (not an error:
// it is how the page learns to show the login form). Behind a trusted
// proxy the first call makes the session of the user it names.
func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	if _, sess := s.session(r); sess != nil {
		writeJSON(w, http.StatusOK, s.info(sess))
		return
	}
	name := s.proxyUser(r)
	if name == "" {
		writeJSON(w, http.StatusOK, sessionInfo{})
		return
	}
	u, ok := s.users[name]
	if !ok {
		s.logger.Warn("console: proxy user not in the users file", "user", name, "remote", s.clientAddr(r))
		fail(w, http.StatusForbidden, "user has no park")
		return
	}
	tok, sess := s.sessions.create(u, true, s.now())
	s.setCookie(w, r, tok, int(s.cfg.SessionTTL/time.Second))
	s.logger.Info("console login", "user", u.name, "park", u.park, "via", "proxy", "remote", s.clientAddr(r))
	writeJSON(w, http.StatusOK, s.info(sess))
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		fail(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	var req struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if !decode(w, r, &req) {
		return
	}
	if s.throttle.locked(req.User, s.now()) {
		s.logger.Warn("console login refused: too many wrong passwords", "user", req.User, "remote", s.clientAddr(r))
		fail(w, http.StatusTooManyRequests, "too many wrong passwords; try again in a minute")
		return
	}
	u, ok := s.users.check(req.User, req.Password)
	if !ok {
		s.throttle.failed(req.User, s.now())
		s.logger.Warn("console login refused", "user", req.User, "remote", s.clientAddr(r))
		fail(w, http.StatusUnauthorized, "wrong user or password")
		return
	}
	s.throttle.succeeded(req.User)
	tok, sess := s.sessions.create(u, false, s.now())
	s.setCookie(w, r, tok, int(s.cfg.SessionTTL/time.Second))
	s.logger.Info("console login", "user", u.name, "park", u.park, "remote", s.clientAddr(r))
	writeJSON(w, http.StatusOK, s.info(sess))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess ctxSession) {
	s.sessions.drop(sess.token)
	s.setCookie(w, r, "", -1)
	s.logger.Info("console logout", "user", sess.user, "park", sess.park, "remote", s.clientAddr(r))
	writeJSON(w, http.StatusOK, map[string]string{})
}

// authed checks, on every API call, the session and, on a state-changing
// one, the CSRF token and the origin.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, ctxSession)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, sess := s.session(r)
		if sess == nil {
			fail(w, http.StatusUnauthorized, "not logged in")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !s.sameOrigin(r) || !sess.csrfOK(r.Header.Get(csrfHeader)) {
				s.logger.Warn("console: request without a valid CSRF token or origin refused",
					"user", sess.user, "path", r.URL.Path, "origin", r.Header.Get("Origin"), "remote", s.clientAddr(r))
				fail(w, http.StatusForbidden, "missing or wrong CSRF token, or cross-origin request")
				return
			}
		}
		h(w, r, ctxSession{token: tok, session: sess})
	}
}

// text checks a free-text field: required ones non-empty, none too long.
func text(field, v string, required bool) error {
	switch {
	case required && v == "":
		return errors.New(field + " is required")
	case utf8.RuneCountInString(v) > 2000:
		return errors.New(field + " is longer than 2000 characters")
	case !utf8.ValidString(v):
		return errors.New(field + " is not valid UTF-8")
	}
	return nil
}
