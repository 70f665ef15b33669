package linkca

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lifeline-telemetry/lifeline/proto/atomicfile"
)

// File names inside a CA directory: every agent certificate issued, and
// the default deny-list of revoked serials the aggregator reads.
const (
	Issued  = "issued.txt"
	Revoked = "revoked.txt"
)

// SerialText is how serials are written in the issued and revoked lists:
// lower-case hex, as 'openssl x509 -serial' prints it (case aside).
func SerialText(n *big.Int) string { return n.Text(16) }

// record appends an issued agent certificate to the CA's issued list, so
// that 'certs revoke --site' can find every serial of a site.
func record(caDir string, cert *x509.Certificate) error {
	line := fmt.Sprintf("%s %s %s\n", SerialText(cert.SerialNumber), cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339))
	path := filepath.Join(caDir, Issued)
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read issued list: %w", err)
	}
	return atomicfile.WriteFile(path, append(old, line...), 0o644)
}

// SerialsForSite returns the serials of every certificate issued to site
// by the CA in caDir.
func SerialsForSite(caDir, site string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(caDir, Issued))
	if err != nil {
		return nil, fmt.Errorf("read issued list: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[1] == site {
			out = append(out, f[0])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no certificate issued to site %q in %s", site, filepath.Join(caDir, Issued))
	}
	return out, nil
}

// Revoke adds serials (hex) to the deny-list at path, noting why. The
// aggregator rereads the file when it changes, so no restart is needed.
func Revoke(path string, serials []string, note string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read revoked list: %w", err)
	}
	have, err := ParseRevoked(old)
	if err != nil {
		return fmt.Errorf("revoked list %s: %w", path, err)
	}
	var buf bytes.Buffer
	buf.Write(old)
	if len(old) > 0 && old[len(old)-1] != '\n' {
		buf.WriteByte('\n')
	}
	note = strings.Join(strings.Fields(note), " ")
	for _, s := range serials {
		n, ok := parseSerial(s)
		if !ok {
			return fmt.Errorf("serial %q: want hex", s)
		}
		if _, dup := have[SerialText(n)]; dup {
			continue
		}
		fmt.Fprintf(&buf, "%s # %s %s\n", SerialText(n), time.Now().UTC().Format(time.RFC3339), note)
	}
	return atomicfile.WriteFile(path, buf.Bytes(), 0o644)
}

// ParseRevoked reads a deny-list: one hex serial per line (colons allowed,
// as openssl prints them), '#' starts a comment.
func ParseRevoked(data []byte) (map[string]struct{}, error) {
	out := map[string]struct{}{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		n, ok := parseSerial(text)
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not a hex serial", line, text)
		}
		out[SerialText(n)] = struct{}{}
	}
	return out, sc.Err()
}

func parseSerial(s string) (*big.Int, bool) {
	s = strings.TrimPrefix(strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", "")), "0x")
	return new(big.Int).SetString(s, 16)
}
