package config

import (
	"strings"
	"testing"
)

func TestStatusPageListen(t *testing.T) {
	tests := []struct {
		listen string
		remote bool
		want   string // "" when valid
	}{
		{"", false, ""},
		{"127.0.0.1:9480", false, ""},
		{"[::1]:9480", false, ""},
		{"localhost:9480", false, ""},
		{"0.0.0.0:9480", false, "allow_remote"},
		{":9480", false, "allow_remote"},
		{"192.168.1.10:9480", false, "allow_remote"},
		{"0.0.0.0:9480", true, ""},
		{"9480", false, "want host:port"},
	}
	for _, tt := range tests {
		err := StatusPage{Listen: tt.listen, AllowRemote: tt.remote}.validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q remote=%v: %v", tt.listen, tt.remote, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q remote=%v: got %v, want an error naming %q", tt.listen, tt.remote, err, tt.want)
		}
	}
}

func TestStatusPageRemoteWarning(t *testing.T) {
	c := Default()
	if w := Warnings("", c); len(w) != 0 {
		t.Errorf("default config warns: %v", w)
	}
	c.StatusPage = StatusPage{Listen: "0.0.0.0:9480", AllowRemote: true}
	if w := Warnings("", c); len(w) != 1 || !strings.Contains(w[0], "no login") {
		t.Errorf("status page open to the network: %v", w)
	}
}
