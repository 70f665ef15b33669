package linkca

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSiteIDLen bounds a site ID in characters.
const MaxSiteIDLen = 64

// ValidSiteID reports why site cannot be a site ID, or nil. The aggregator
// applies the same rule to a client certificate's common name, so a site
// the aggregator would refuse never gets a certificate, and a site ID is
// always safe as a file name: letters, digits, '-', '_' and '.', not
// starting with '.'.
func ValidSiteID(site string) error {
	switch {
	case site == "":
		return errors.New("site ID is required")
	case !utf8.ValidString(site):
		return fmt.Errorf("site ID %q: not UTF-8", site)
	case utf8.RuneCountInString(site) > MaxSiteIDLen:
		return fmt.Errorf("site ID %q: longer than %d characters", site, MaxSiteIDLen)
	case strings.HasPrefix(site, "."):
		return fmt.Errorf("site ID %q: must not start with '.'", site)
	}
	for _, r := range site {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_' && r != '.' {
			return fmt.Errorf("site ID %q: %q not allowed (letters, digits, '-', '_', '.')", site, r)
		}
	}
	return nil
}
