package opcua

import (
	"errors"
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

func TestSecurityOptions(t *testing.T) {
	tests := []struct {
		policy, mode string
		wantErr      string // "" for success
	}{
		{"None", "None", ""},
		{"", "", ""},
		{"None", "Sign", "security_policy None with security_mode Sign"},
		{"Basic256Sha256", "None", "security_mode None"},
		{"Basic256Sha256", "Sign", ""},
		{"Basic256Sha256", "SignAndEncrypt", ""},
		{"Aes128_Sha256_RsaOaep", "Sign", ""},
		{"Aes128_Sha256_RsaOaep", "SignAndEncrypt", ""},
		{"Basic128Rsa15", "Sign", `security_policy "Basic128Rsa15"`},
		{"None", "Encrypt", `security_mode "Encrypt"`},
	}
	for _, tt := range tests {
		src := config.Source{Name: "s", SecurityPolicy: tt.policy, SecurityMode: tt.mode}
		uri, _, err := securityOptions(src)
		if tt.wantErr == "" {
			if err != nil || uri == "" {
				t.Errorf("%s/%s: %v, want options", tt.policy, tt.mode, err)
			}
			continue
		}
		if !errors.Is(err, ErrUnsupportedSecurity) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s/%s: %v, want ErrUnsupportedSecurity mentioning %q", tt.policy, tt.mode, err, tt.wantErr)
		}
	}
}
