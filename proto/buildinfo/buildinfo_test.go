package buildinfo

import (
	"strings"
	"testing"
)

func TestStringNamesEveryField(t *testing.T) {
	got := Info{Version: "v1.2.3", Commit: "0123456789abcdef", Date: "2026-12-02T01:00:00Z",
		GoVersion: "go1.26", Platform: "linux/arm64"}.String()
	for _, want := range []string{"v1.2.3", "commit 0123456789ab", "built 2026-12-02T01:00:00Z", "go1.26", "linux/arm64"} {
		if !strings.Contains(got, want) {
			t.Errorf("String() = %q, lacks %q", got, want)
		}
	}
	if strings.Contains(got, "cdef") {
		t.Errorf("String() = %q: commit not shortened", got)
	}
}

func TestUnstampedBuildSaysUnknown(t *testing.T) {
	got := Info{Version: "dev"}.String()
	if !strings.Contains(got, "commit unknown") || !strings.Contains(got, "built unknown") {
		t.Errorf("String() = %q", got)
	}
}
