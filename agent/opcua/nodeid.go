package opcua

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gopcua/opcua/ua"
)

// ParseNodeID resolves a configured node ID against the server's namespace
// array (namespaces[i] is the URI of namespace index i, as read from
// ns=0;i=2255).
//
// Accepted forms are "nsu=URI;s=…" (also i=, g= and b=) and, for the OPC UA
// namespace 0, a bare "i=…", "s=…", "g=…" or "b=…". A namespace index
// ("ns=2;…") is refused: indexes may change when the server restarts, which
// is exactly what resolving by URI on every connect protects against.
func ParseNodeID(s string, namespaces []string) (*ua.NodeID, error) {
	ident := s
	var ns uint16
	switch {
	case strings.HasPrefix(s, "nsu="):
		uri, rest, ok := strings.Cut(s[len("nsu="):], ";")
		if !ok || uri == "" {
			return nil, fmt.Errorf("node %q: want nsu=URI;s=… (or i=, g=, b=)", s)
		}
		idx := -1
		for i, u := range namespaces {
			if u == uri {
				idx = i
				break
			}
		}
		if idx < 0 {
			return nil, &UnknownNamespaceError{URI: uri, Known: namespaces}
		}
		if idx > 0xFFFF {
			return nil, fmt.Errorf("node %q: namespace %q has index %d, beyond 65535", s, uri, idx)
		}
		ns, ident = uint16(idx), rest
	case strings.HasPrefix(s, "ns="):
		return nil, fmt.Errorf("node %q uses a namespace index; write the namespace URI instead (nsu=…;s=…), indexes can change when the server restarts", s)
	}
	id, err := parseIdentifier(ns, ident)
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", s, err)
	}
	return id, nil
}

// parseIdentifier builds the node ID for one "i=", "s=", "g=" or "b="
// identifier in namespace ns, using gopcua's parser so that numeric IDs get
// the same compact encoding gopcua itself would choose.
func parseIdentifier(ns uint16, ident string) (*ua.NodeID, error) {
	if len(ident) < 3 || ident[1] != '=' || !strings.ContainsRune("sigb", rune(ident[0])) {
		return nil, errors.New("identifier must be s=, i=, g= or b= followed by a value")
	}
	switch ident[0] {
	case 'i':
		// gopcua accepts what strconv.ParseUint accepts; be strict: digits only.
		if _, err := strconv.ParseUint(ident[2:], 10, 32); err != nil || strings.ContainsAny(ident[2:], "+-_") {
			return nil, fmt.Errorf("numeric identifier %q: want 0..4294967295", ident[2:])
		}
	case 's':
		// Built directly so that a string identifier containing ';' or '='
		// stays intact.
		return ua.NewStringNodeID(ns, ident[2:]), nil
	}
	return ua.ParseNodeID("ns=" + strconv.Itoa(int(ns)) + ";" + ident)
}

// UnknownNamespaceError reports a namespace URI the server does not (or no
// longer) have in its namespace array.
type UnknownNamespaceError struct {
	URI   string
	Known []string
}

func (e *UnknownNamespaceError) Error() string {
	return fmt.Sprintf("namespace %q is not in the server's namespace array (known: %s)", e.URI, strings.Join(quoteAll(e.Known), ", "))
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}
