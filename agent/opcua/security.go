package opcua

import (
	"errors"
	"fmt"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// ErrUnsupportedSecurity is returned (wrapped) by Run and Check for a
// security policy or mode they cannot set up. Retrying cannot fix it.
var ErrUnsupportedSecurity = errors.New("unsupported OPC UA security setting")

// securityOptions maps the source's security policy and mode onto gopcua
// client options.
//
// Policy None with mode None works. Basic256Sha256 and Aes128_Sha256_RsaOaep
// with Sign or SignAndEncrypt map onto gopcua's SecurityPolicy and
// SecurityMode options, but a secure channel also needs a client
// certificate and private key and a way to trust the server's certificate
// (gopcua checks neither); the configuration does not carry those yet, so
// such a source is refused with ErrUnsupportedSecurity instead of connecting
// with a throw-away identity to an unverified server.
func securityOptions(src config.Source) ([]opcua.Option, error) {
	policy, mode := src.SecurityPolicy, src.SecurityMode
	if policy == "" {
		policy = "None"
	}
	if mode == "" {
		mode = "None"
	}
	var uaMode ua.MessageSecurityMode
	switch mode {
	case "None":
		uaMode = ua.MessageSecurityModeNone
	case "Sign":
		uaMode = ua.MessageSecurityModeSign
	case "SignAndEncrypt":
		uaMode = ua.MessageSecurityModeSignAndEncrypt
	default:
		return nil, fmt.Errorf("source %s: security_mode %q: %w (want None, Sign or SignAndEncrypt)", src.Name, mode, ErrUnsupportedSecurity)
	}
	switch policy {
	case "None":
		if uaMode != ua.MessageSecurityModeNone {
			return nil, fmt.Errorf("source %s: security_policy None with security_mode %s: %w", src.Name, mode, ErrUnsupportedSecurity)
		}
		return []opcua.Option{
			opcua.SecurityPolicy(ua.SecurityPolicyURINone),
			opcua.SecurityMode(ua.MessageSecurityModeNone),
			opcua.AuthAnonymous(),
		}, nil
	case "Basic256Sha256", "Aes128_Sha256_RsaOaep":
		if uaMode == ua.MessageSecurityModeNone {
			return nil, fmt.Errorf("source %s: security_policy %s with security_mode None: %w", src.Name, policy, ErrUnsupportedSecurity)
		}
		return nil, fmt.Errorf("source %s: security_policy %s / security_mode %s: %w: the client certificate, private key and trusted server certificate cannot be configured yet; use None on a segregated network for now", src.Name, policy, mode, ErrUnsupportedSecurity)
	default:
		return nil, fmt.Errorf("source %s: security_policy %q: %w (want None, Basic256Sha256 or Aes128_Sha256_RsaOaep)", src.Name, policy, ErrUnsupportedSecurity)
	}
}
