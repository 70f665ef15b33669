package opcua

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/pki"
)

// ErrUnsupportedSecurity is returned (wrapped) by Run and Check for a
// security policy, mode or user token they cannot set up. Retrying cannot
// fix it.
var ErrUnsupportedSecurity = errors.New("unsupported OPC UA security setting")

// defaultApplicationURI is presented when the agent connects without an
// application instance certificate (security None, no certificate token).
const defaultApplicationURI = "urn:lifeline-telemetry:agent"

// securityOptions checks the source's security policy, mode and user token
// without I/O and returns the policy URI and mode to ask for.
func securityOptions(src config.Source) (policyURI string, mode ua.MessageSecurityMode, err error) {
	policy, m := src.SecurityPolicy, src.SecurityMode
	if policy == "" {
		policy = "None"
	}
	if m == "" {
		m = "None"
	}
	switch m {
	case "None":
		mode = ua.MessageSecurityModeNone
	case "Sign":
		mode = ua.MessageSecurityModeSign
	case "SignAndEncrypt":
		mode = ua.MessageSecurityModeSignAndEncrypt
	default:
		return "", 0, fmt.Errorf("source %s: security_mode %q: %w (want None, Sign or SignAndEncrypt)", src.Name, m, ErrUnsupportedSecurity)
	}
	switch policy {
	case "None":
		if mode != ua.MessageSecurityModeNone {
			return "", 0, fmt.Errorf("source %s: security_policy None with security_mode %s: %w", src.Name, m, ErrUnsupportedSecurity)
		}
		policyURI = ua.SecurityPolicyURINone
	case "Basic256Sha256", "Aes128_Sha256_RsaOaep":
		if mode == ua.MessageSecurityModeNone {
			return "", 0, fmt.Errorf("source %s: security_policy %s with security_mode None: %w", src.Name, policy, ErrUnsupportedSecurity)
		}
		policyURI = ua.FormatSecurityPolicyURI(policy)
	default:
		return "", 0, fmt.Errorf("source %s: security_policy %q: %w (want None, Basic256Sha256 or Aes128_Sha256_RsaOaep)", src.Name, policy, ErrUnsupportedSecurity)
	}
	if _, err := tokenType(src); err != nil {
		return "", 0, err
	}
	return policyURI, mode, nil
}

// tokenType maps the source's auth onto an OPC UA user token type.
func tokenType(src config.Source) (ua.UserTokenType, error) {
	switch src.Auth {
	case "", "anonymous":
		return ua.UserTokenTypeAnonymous, nil
	case "username":
		return ua.UserTokenTypeUserName, nil
	case "certificate":
		return ua.UserTokenTypeCertificate, nil
	}
	return 0, fmt.Errorf("source %s: auth %q: %w (want anonymous, username or certificate)", src.Name, src.Auth, ErrUnsupportedSecurity)
}

// needsEndpoint reports whether connecting needs the server's endpoint
// description (its certificate and user token policies) first.
func needsEndpoint(src config.Source) bool {
	t, _ := tokenType(src)
	return (src.SecurityPolicy != "" && src.SecurityPolicy != "None") || t != ua.UserTokenTypeAnonymous
}

// clientSecurity returns the gopcua options that set up the source's
// channel security and user identity.
//
// For security None with an anonymous user no I/O is needed. Otherwise the
// server's endpoints are fetched over an unsecured channel, the endpoint
// with the configured policy and mode is selected, and its certificate is
// verified against the PKI directory's trusted certificates (gopcua checks
// none): an untrusted certificate is saved to rejected/ and a
// *pki.UntrustedError returned. The channel is then opened with that very
// certificate, so a server that cannot decrypt with the trusted
// certificate's key cannot complete the handshake. The endpoint URL the
// server advertises is not used; the configured one is.
func clientSecurity(ctx context.Context, src config.Source) ([]opcua.Option, error) {
	policyURI, mode, err := securityOptions(src)
	if err != nil {
		return nil, err
	}
	if !needsEndpoint(src) {
		return []opcua.Option{
			opcua.SecurityPolicy(ua.SecurityPolicyURINone),
			opcua.SecurityMode(ua.MessageSecurityModeNone),
			opcua.AuthAnonymous(),
			opcua.ApplicationURI(defaultApplicationURI),
		}, nil
	}
	tt, _ := tokenType(src)
	dir := pki.Dir{Root: src.PKIDir}

	var opts []opcua.Option
	secure := policyURI != ua.SecurityPolicyURINone
	if secure {
		own, err := dir.LoadOwn()
		if err != nil {
			return nil, err
		}
		opts = append(opts, opcua.Certificate(own.Cert), opcua.PrivateKey(own.Key), opcua.ApplicationURI(own.ApplicationURI))
	} else {
		opts = append(opts, opcua.ApplicationURI(defaultApplicationURI))
	}

	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	eps, err := opcua.GetEndpoints(cctx, src.Endpoint, opcua.DialTimeout(dialTimeout), opcua.RequestTimeout(callTimeout))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("get endpoints: %w", err)
	}
	ep := selectEndpoint(eps, policyURI, mode)
	if ep == nil {
		return nil, fmt.Errorf("server offers no endpoint with security_policy %s and security_mode %s (it offers: %s)", src.SecurityPolicy, src.SecurityMode, describeEndpoints(eps))
	}
	if !offersToken(ep, tt) {
		return nil, fmt.Errorf("server's %s/%s endpoint accepts no %s user token (it accepts: %s)", src.SecurityPolicy, src.SecurityMode, tokenName(tt), describeTokens(ep))
	}
	if secure {
		if len(ep.ServerCertificate) == 0 {
			return nil, errors.New("server's endpoint carries no certificate")
		}
		der := firstCert(ep.ServerCertificate)
		if err := dir.Verify(der, time.Now()); err != nil {
			return nil, err
		}
		opts = append(opts, opcua.RemoteCertificate(der))
	}

	user, err := userTokenOptions(src, tt)
	if err != nil {
		return nil, err
	}
	opts = append(opts, user...)
	// Last: it sets the security policy and mode, the server certificate
	// and the token's policy ID from the selected endpoint.
	ep.ServerCertificate = firstCert(ep.ServerCertificate)
	opts = append(opts, opcua.SecurityFromEndpoint(ep, tt))
	return opts, nil
}

// userTokenOptions are the options of the source's user identity: its
// password (read from password_file when set) or its certificate and key.
func userTokenOptions(src config.Source, tt ua.UserTokenType) ([]opcua.Option, error) {
	switch tt {
	case ua.UserTokenTypeAnonymous:
		return []opcua.Option{opcua.AuthAnonymous()}, nil
	case ua.UserTokenTypeUserName:
		pass := src.Password
		if src.PasswordFile != "" {
			b, err := os.ReadFile(src.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("password_file: %w", err)
			}
			pass = strings.TrimRight(string(b), "\r\n")
		}
		return []opcua.Option{opcua.AuthUsername(src.Username, pass)}, nil
	case ua.UserTokenTypeCertificate:
		der, _, err := pki.ParseCertFile(src.UserCertFile)
		if err != nil {
			return nil, fmt.Errorf("user_cert_file: %w", err)
		}
		keyData, err := os.ReadFile(src.UserKeyFile)
		if err != nil {
			return nil, fmt.Errorf("user_key_file: %w", err)
		}
		key, err := pki.ParseKey(keyData)
		if err != nil {
			return nil, fmt.Errorf("user_key_file %s: %w", src.UserKeyFile, err)
		}
		return []opcua.Option{opcua.AuthCertificate(der), opcua.AuthPrivateKey(key)}, nil
	}
	return nil, nil
}

// selectEndpoint returns the endpoint with exactly the policy and mode, the
// one with the highest security level if there are several.
func selectEndpoint(eps []*ua.EndpointDescription, policyURI string, mode ua.MessageSecurityMode) *ua.EndpointDescription {
	var best *ua.EndpointDescription
	for _, ep := range eps {
		if ep == nil || ep.SecurityPolicyURI != policyURI || ep.SecurityMode != mode {
			continue
		}
		if best == nil || ep.SecurityLevel > best.SecurityLevel {
			best = ep
		}
	}
	return best
}

func offersToken(ep *ua.EndpointDescription, tt ua.UserTokenType) bool {
	for _, t := range ep.UserIdentityTokens {
		if t != nil && t.TokenType == tt {
			return true
		}
	}
	return false
}

func tokenName(tt ua.UserTokenType) string {
	switch tt {
	case ua.UserTokenTypeAnonymous:
		return "anonymous"
	case ua.UserTokenTypeUserName:
		return "username"
	case ua.UserTokenTypeCertificate:
		return "certificate"
	case ua.UserTokenTypeIssuedToken:
		return "issued"
	}
	return fmt.Sprintf("type %d", tt)
}

func describeTokens(ep *ua.EndpointDescription) string {
	var names []string
	for _, t := range ep.UserIdentityTokens {
		if t != nil {
			names = append(names, tokenName(t.TokenType))
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func describeEndpoints(eps []*ua.EndpointDescription) string {
	var out []string
	seen := map[string]bool{}
	for _, ep := range eps {
		if ep == nil {
			continue
		}
		s := strings.TrimPrefix(ep.SecurityPolicyURI, "http://opcfoundation.org/UA/SecurityPolicy#") + "/" + strings.TrimPrefix(ep.SecurityMode.String(), "MessageSecurityMode")
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, ", ")
}

// firstCert returns the leaf of a certificate chain sent as concatenated
// DER certificates (as some servers do), or data unchanged.
func firstCert(data []byte) []byte {
	// A DER SEQUENCE with a long-form length: 0x30 0x82 hi lo.
	if len(data) > 4 && data[0] == 0x30 && data[1] == 0x82 {
		n := 4 + int(data[2])<<8 + int(data[3])
		if n < len(data) {
			return data[:n]
		}
	}
	return data
}
