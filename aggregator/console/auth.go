package console

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

const (
	cookieName = "lifeline_console"
	csrfHeader = "X-CSRF-Token"
)

// peer returns the address of the request's sender.
func peer(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// fromProxy says whether the request comes from a trusted proxy.
func (s *Server) fromProxy(r *http.Request) bool {
	a := peer(r)
	return slices.ContainsFunc(s.trusted, func(p netip.Prefix) bool { return p.Contains(a) })
}

// proxyUser returns the user a trusted proxy vouches for, "" if none.
// The header is ignored from anyone else: a browser could set it.
func (s *Server) proxyUser(r *http.Request) string {
	if s.cfg.Proxy.UserHeader == "" || !s.fromProxy(r) {
		return ""
	}
	return strings.TrimSpace(r.Header.Get(s.cfg.Proxy.UserHeader))
}

// clientAddr is the audited address: the proxy's X-Real-IP or last
// X-Forwarded-For hop when it is trusted, else the peer.
func (s *Server) clientAddr(r *http.Request) string {
	if s.fromProxy(r) {
		if v := strings.TrimSpace(r.Header.Get("X-Real-IP")); v != "" {
			return v
		}
		if v := r.Header.Get("X-Forwarded-For"); v != "" {
			hops := strings.Split(v, ",")
			return strings.TrimSpace(hops[len(hops)-1])
		}
	}
	return peer(r).String()
}

// secure says whether the browser reached the console over TLS.
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || s.fromProxy(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// session returns the request's live session, or nil. Behind the proxy a
// session belongs to the user the proxy names on this very request.
func (s *Server) session(r *http.Request) (string, *session) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", nil
	}
	sess := s.sessions.get(c.Value, s.now())
	if sess == nil {
		return "", nil
	}
	if sess.proxied && s.proxyUser(r) != sess.user {
		return "", nil
	}
	return c.Value, sess
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure(r)})
}

// sameOrigin refuses a cross-site post: a browser names the page's origin
// in Origin, which must be the console's own (or a configured one). A
// client without Origin (curl) must not claim a cross-site fetch either.
func (s *Server) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		site := r.Header.Get("Sec-Fetch-Site")
		return site == "" || site == "same-origin" || site == "none"
	}
	scheme := "http"
	if s.secure(r) {
		scheme = "https"
	}
	if origin == scheme+"://"+r.Host {
		return true
	}
	return slices.Contains(s.cfg.Origins, origin)
}
