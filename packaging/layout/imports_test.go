// Package layout tests the repository's shape: which side may import which
// (data flows one way, the binaries stay apart) and how long code may grow.
package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/lifeline-telemetry/lifeline/"

type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// packages lists every package of the module with its imports, tests included.
func packages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var all []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		all = append(all, p)
	}
	if len(all) < 10 {
		t.Fatalf("go list found %d packages; the test is not looking at the module", len(all))
	}
	return all
}

func side(path string) string {
	rel, ok := strings.CutPrefix(path, module)
	if !ok {
		return ""
	}
	first, _, _ := strings.Cut(rel, "/")
	return first
}

// TestImportRules: the aggregator never depends on the agent's code nor the
// reverse, and proto/ (the shared kit) depends on neither.
func TestImportRules(t *testing.T) {
	forbidden := map[string][]string{
		"aggregator": {"agent", "packaging"},
		"agent":      {"aggregator", "packaging"},
		"proto":      {"agent", "aggregator", "packaging", "dashboards"},
	}
	checked := 0
	for _, p := range packages(t) {
		from := side(p.ImportPath)
		bad := forbidden[from]
		if bad == nil {
			continue
		}
		checked++
		for _, imp := range append(append(append([]string{}, p.Imports...), p.TestImports...), p.XTestImports...) {
			to := side(imp)
			for _, b := range bad {
				if to == b {
					t.Errorf("%s imports %s: %s/ must not depend on %s/", p.ImportPath, imp, from, b)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no agent, aggregator or proto package checked")
	}
}
