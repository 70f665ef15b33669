package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The Grafana token reaches Grafana from --token-file, and --token, which
// ps shows to every user, is warned about.
func TestProvisionTokenFromFile(t *testing.T) {
	t.Setenv(envGrafanaURL, "")
	t.Setenv(envGrafanaToken, "")
	var mu sync.Mutex
	var auth []string
	grafana := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		http.Error(w, `{"message":"no"}`, http.StatusUnauthorized)
	}))
	defer grafana.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("glsa_from_file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := execute("provision", "--config", plainConfig(t), "--url", grafana.URL, "--token-file", tokenFile, "--site", "A=B")
	mu.Lock()
	got := strings.Join(auth, ",")
	mu.Unlock()
	if !strings.Contains(got, "Bearer glsa_from_file") {
		t.Fatalf("Authorization sent: %q (output %q)", got, out)
	}
	if strings.Contains(out, "visible to every user") {
		t.Fatalf("warned without --token: %q", out)
	}
	out, _ = execute("provision", "--config", plainConfig(t), "--url", grafana.URL, "--token", "glsa_x", "--site", "A=B")
	if !strings.Contains(out, "--token is visible to every user in ps") {
		t.Fatalf("no warning for --token: %q", out)
	}
}
