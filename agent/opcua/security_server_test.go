package opcua

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/pki"
)

// newIdentity creates a PKI directory with an application instance
// certificate.
func newIdentity(t *testing.T, uri string) (pki.Dir, pki.Own) {
	t.Helper()
	d := pki.Dir{Root: filepath.Join(t.TempDir(), "pki")}
	o := pki.DefaultInitOptions()
	o.ApplicationURI, o.Hosts = uri, []string{"127.0.0.1", "localhost"}
	own, err := d.Init(o)
	if err != nil {
		t.Fatal(err)
	}
	return d, own
}

// A secure source refuses a server certificate it does not trust, saves it
// to rejected/ with a message telling how to trust it, and connects once
// the operator trusted it, for every policy and mode.
func TestSecureChannelTrustFlow(t *testing.T) {
	t.Parallel()
	_, serverID := newIdentity(t, "urn:test:server")
	ts := startServer(t, serverOptions{identity: &serverID})
	agentDir, _ := newIdentity(t, "urn:test:agent")

	src := plantSource(ts.endpoint)
	src.PKIDir = agentDir.Root
	src.SecurityPolicy, src.SecurityMode = "Basic256Sha256", "SignAndEncrypt"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, err := Check(ctx, src)
	var ue *pki.UntrustedError
	if !errors.As(err, &ue) {
		t.Fatalf("Check against an untrusted server: %v, want *pki.UntrustedError", err)
	}
	if !strings.Contains(err.Error(), "lifeline-agent certs trust") || ue.Thumbprint != pki.Thumbprint(serverID.Cert) {
		t.Errorf("error does not tell how to trust the certificate: %v", err)
	}
	saved, err := os.ReadFile(ue.Path)
	if err != nil || string(saved) != string(serverID.Cert) {
		t.Fatalf("rejected certificate not saved at %s: %v", ue.Path, err)
	}
	if _, err := agentDir.Trust(ue.Path); err != nil {
		t.Fatal(err)
	}

	for _, sec := range []struct{ policy, mode string }{
		{"Basic256Sha256", "SignAndEncrypt"},
		{"Basic256Sha256", "Sign"},
		{"Aes128_Sha256_RsaOaep", "SignAndEncrypt"},
		{"Aes128_Sha256_RsaOaep", "Sign"},
	} {
		for _, auth := range []string{"anonymous", "username", "certificate"} {
			s := src
			s.SecurityPolicy, s.SecurityMode, s.Auth = sec.policy, sec.mode, auth
			switch auth {
			case "username":
				s.Username, s.Password = "operator", "secret"
			case "certificate":
				userDir, _ := newIdentity(t, "urn:test:user")
				s.UserCertFile, s.UserKeyFile = userDir.OwnCertPath(), userDir.OwnKeyPath()
			}
			reports, err := Check(ctx, s)
			if err != nil {
				t.Errorf("%s/%s/%s: %v", sec.policy, sec.mode, auth, err)
				continue
			}
			for _, r := range reports {
				if r.Err != nil {
					t.Errorf("%s/%s/%s: point %s: %v", sec.policy, sec.mode, auth, r.PointID, r.Err)
				}
			}
		}
	}
}

// The reader of a secure source keeps retrying while the certificate is
// untrusted and starts delivering as soon as it is trusted.
func TestReaderSecureAfterTrust(t *testing.T) {
	t.Parallel()
	_, serverID := newIdentity(t, "urn:test:server")
	ts := startServer(t, serverOptions{identity: &serverID, update: 50 * time.Millisecond})
	agentDir, _ := newIdentity(t, "urn:test:agent")
	src := plantSource(ts.endpoint)
	src.PKIDir = agentDir.Root
	src.SecurityPolicy, src.SecurityMode = "Basic256Sha256", "SignAndEncrypt"
	src.ReconnectMin, src.ReconnectMax = 100_000_000, 200_000_000 // 100ms..200ms

	rec := &recorder{}
	r := New(src, rec, testLogger(t))
	stop := running(t, r)
	defer stop()
	var rejected []os.DirEntry
	waitFor(t, "certificate in rejected/", 10*time.Second, func() bool {
		entries, _ := os.ReadDir(agentDir.RejectedDir())
		// The PKI writes through a dot-named temp file and a rename.
		rejected = slices.DeleteFunc(entries, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), ".") })
		return len(rejected) == 1
	})
	if rec.count() != 0 {
		t.Fatal("samples from an untrusted server")
	}
	if _, err := agentDir.Trust(filepath.Join(agentDir.RejectedDir(), rejected[0].Name())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "samples over the secure channel", 15*time.Second, func() bool { return rec.count() > 20 })
	checkPlantSamples(t, rec.samples(time.Time{}))
}
