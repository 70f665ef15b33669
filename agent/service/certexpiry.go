package service

import (
	"fmt"
	"time"
)

// CertWarnBefore is how long before its link certificate expires the agent
// starts warning, at start and in 'lifeline-agent status': time enough to
// run 'lifeline-aggregator certs agent --force' and ship the files.
const CertWarnBefore = 30 * 24 * time.Hour

// CertExpiryWarning returns a warning when the certificate expiring at
// notAfter is expired or expires within CertWarnBefore of now, or "".
// A zero notAfter (no TLS) never warns.
func CertExpiryWarning(notAfter, now time.Time) string {
	if notAfter.IsZero() {
		return ""
	}
	left := notAfter.Sub(now)
	switch {
	case left <= 0:
		return fmt.Sprintf("link certificate EXPIRED on %s: the aggregator refuses this agent; renew it with 'lifeline-aggregator certs agent --site <id> --force'",
			notAfter.UTC().Format("2006-01-02"))
	case left < CertWarnBefore:
		return fmt.Sprintf("link certificate expires on %s (in %d days): renew it with 'lifeline-aggregator certs agent --site <id> --force'",
			notAfter.UTC().Format("2006-01-02"), int(left.Hours()/24))
	}
	return ""
}

func (a *Agent) warnCertExpiry(now time.Time) {
	if a.certNotAfter == 0 {
		return
	}
	if msg := CertExpiryWarning(time.Unix(0, a.certNotAfter), now); msg != "" {
		a.logger.Warn(msg, "cert_file", a.cfg.Aggregator.TLS.CertFile)
	}
}
