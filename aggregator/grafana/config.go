package grafana

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"time"

	"github.com/lifeline-telemetry/lifeline/dashboards"
)

// Config says which Grafana to provision and how its data source reaches
// ClickHouse.
type Config struct {
	// URL of Grafana, e.g. http://127.0.0.1:3000 or https://host/grafana.
	URL string
	// Token is a service account token, sent as "Authorization: Bearer".
	// Username and Password are basic auth, used when Token is empty.
	Token    string
	Username string
	Password string
	// OrgID, when not zero, is sent as X-Grafana-Org-Id (basic auth only;
	// a token belongs to one organisation).
	OrgID int64
	// Lang of the dashboards: "zh" (default) or "en".
	Lang    string
	Timeout time.Duration
	// AckOverdue is how long an alarm may wait for acknowledgement before
	// the alarm dashboard calls it overdue; 0 takes the dashboards' default.
	AckOverdue time.Duration

	Datasource Datasource
}

// Datasource is the ClickHouse data source the dashboards query. Its user
// should be read-only: Grafana runs whatever SQL a panel holds.
type Datasource struct {
	UID      string
	Name     string
	Addr     string // host:port of ClickHouse's native protocol
	Database string
	Username string
	Password string
	Secure   bool // TLS to ClickHouse
}

// DefaultDatasource returns the data source defaults.
func DefaultDatasource() Datasource {
	return Datasource{UID: "lifeline-clickhouse", Name: "Lifeline ClickHouse", Addr: "127.0.0.1:9000",
		Database: "lifeline", Username: "lifeline_readonly"}
}

var uidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// Validate reports every problem of c for the API (dryRun false) or for
// writing files (dryRun true, when no URL or credentials are needed).
func (c Config) Validate(dryRun bool) error {
	var errs []error
	if !dryRun {
		u, err := url.Parse(c.URL)
		switch {
		case c.URL == "":
			errs = append(errs, errors.New("grafana.url: required"))
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			errs = append(errs, fmt.Errorf("grafana.url %q: want http(s)://host[:port][/path]", c.URL))
		}
		if c.Token == "" && (c.Username == "" || c.Password == "") {
			errs = append(errs, errors.New("grafana: want token (a service account token) or username and password"))
		}
	}
	if _, err := dashboards.ParseLang(c.Lang); err != nil {
		errs = append(errs, fmt.Errorf("grafana.lang: %w", err))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("grafana.timeout %s: want >= 0", c.Timeout))
	}
	d := c.Datasource
	if !uidPattern.MatchString(d.UID) {
		errs = append(errs, fmt.Errorf("grafana.datasource.uid %q: want 1-40 letters, digits, - or _", d.UID))
	}
	if d.Name == "" {
		errs = append(errs, errors.New("grafana.datasource.name: required"))
	}
	if _, _, err := net.SplitHostPort(d.Addr); err != nil {
		errs = append(errs, fmt.Errorf("grafana.datasource.addr %q: want host:port of ClickHouse's native protocol", d.Addr))
	}
	if d.Database == "" || d.Username == "" {
		errs = append(errs, errors.New("grafana.datasource: database and username are required"))
	}
	return errors.Join(errs...)
}
