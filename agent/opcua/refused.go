package opcua

import (
	"errors"
	"fmt"

	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/pki"
)

// CertRefusedError says that the server refused the certificate the agent
// presented (BadSecurityChecksFailed): the server's administrator has not
// trusted it yet. Most servers keep the certificates they refused, so the
// fix is on the server, not in the agent's PKI directory.
type CertRefusedError struct {
	Endpoint   string
	Which      string // "application instance" or "user"
	CertPath   string
	Thumbprint string // empty when the certificate could not be read
	Err        error
}

func (e *CertRefusedError) Error() string {
	id := e.CertPath
	if e.Thumbprint != "" {
		id = fmt.Sprintf("%s, thumbprint %s", e.CertPath, e.Thumbprint)
	}
	return fmt.Sprintf("connect to %s: the server refused the agent's %s certificate (%s): %v; "+
		"the server does not trust it yet: on the server, move it from the server's rejected-certificates folder to its "+
		"trusted list (node-opcua: pki/rejected to pki/trusted; Prosys, KEPServerEX, Siemens: the certificate or trust list "+
		"settings), or give the server's administrator %s; the agent retries by itself",
		e.Endpoint, e.Which, id, e.Err, e.CertPath)
}

func (e *CertRefusedError) Unwrap() error { return e.Err }

// connectError explains a failed Connect: a refusal of the certificate
// the agent presented becomes a *CertRefusedError naming it; any other
// error is wrapped with the endpoint.
func connectError(src config.Source, err error) error {
	if !errors.Is(err, ua.StatusBadSecurityChecksFailed) {
		return fmt.Errorf("connect to %s: %w", src.Endpoint, err)
	}
	e := &CertRefusedError{Endpoint: src.Endpoint, Err: err}
	switch {
	case src.SecurityPolicy != "" && src.SecurityPolicy != "None":
		d := pki.Dir{Root: src.PKIDir}
		e.Which, e.CertPath = "application instance", d.OwnCertPath()
		if own, lerr := d.LoadOwn(); lerr == nil {
			e.Thumbprint = pki.Thumbprint(own.Cert)
		}
	case src.Auth == "certificate":
		e.Which, e.CertPath = "user", src.UserCertFile
		if der, _, perr := pki.ParseCertFile(src.UserCertFile); perr == nil {
			e.Thumbprint = pki.Thumbprint(der)
		}
	default:
		return fmt.Errorf("connect to %s: %w", src.Endpoint, err)
	}
	return e
}
