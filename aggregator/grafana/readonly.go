package grafana

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// ReadonlyUser is the ClickHouse account the Grafana data source logs in
// with. ClickHouse 18.16 has no CREATE USER: accounts live in users.xml and
// users.d, which ReadonlyUsersXML writes.
type ReadonlyUser struct {
	Name     string
	Password string // stored as its SHA-256 only
	Database string // the only database the user may open
	Networks []string
	// Readonly is the profile's readonly level: 2 (the default when 0)
	// lets the plugin set max_execution_time per query but allows table
	// functions such as url() and remote() to other hosts; 1 refuses those
	// and every per-query setting.
	Readonly int
}

var xmlName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Validate reports every problem of u.
func (u ReadonlyUser) Validate() error {
	var errs []error
	if !xmlName.MatchString(u.Name) {
		errs = append(errs, fmt.Errorf("user name %q: want letters, digits and _", u.Name))
	}
	if !xmlName.MatchString(u.Database) {
		errs = append(errs, fmt.Errorf("database %q: want letters, digits and _", u.Database))
	}
	if u.Password == "" {
		errs = append(errs, errors.New("the read-only user needs a password (grafana.datasource.password)"))
	}
	if u.Readonly < 0 || u.Readonly > 2 {
		errs = append(errs, fmt.Errorf("readonly %d: want 1 or 2", u.Readonly))
	}
	if len(u.Networks) == 0 {
		errs = append(errs, errors.New("no network may connect: give at least one address or CIDR"))
	}
	for _, n := range u.Networks {
		if _, err := netip.ParsePrefix(n); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(n); err != nil {
			errs = append(errs, fmt.Errorf("network %q: want an IP address or CIDR", n))
		}
	}
	return errors.Join(errs...)
}

// ReadonlyUsersXML renders a users.d file holding u and its profile. At
// either readonly level queries cannot write or change the schema, and the
// readonly setting itself cannot be changed.
func ReadonlyUsersXML(u ReadonlyUser) ([]byte, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if u.Readonly == 0 {
		u.Readonly = 2
	}
	sum := sha256.Sum256([]byte(u.Password))
	var nets strings.Builder
	for _, n := range u.Networks {
		fmt.Fprintf(&nets, "                <ip>%s</ip>\n", n) // validated: no markup
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0"?>
<!-- Written by lifeline-aggregator readonly-users; rewritten on every run. -->
<yandex>
    <profiles>
        <%[1]s>
            <readonly>%[5]d</readonly>
            <max_execution_time>60</max_execution_time>
        </%[1]s>
    </profiles>
    <users>
        <%[1]s>
            <password_sha256_hex>%[2]s</password_sha256_hex>
            <networks>
%[3]s            </networks>
            <profile>%[1]s</profile>
            <quota>default</quota>
            <allow_databases>
                <database>%[4]s</database>
            </allow_databases>
        </%[1]s>
    </users>
</yandex>
`, u.Name, hex.EncodeToString(sum[:]), nets.String(), u.Database, u.Readonly)
	return b.Bytes(), nil
}
