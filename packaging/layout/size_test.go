package layout

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Size limits of hand-written code (STYLE.md): past them a file holds more
// than one concept and a function more than one step.
const (
	maxFileLines     = 600
	maxFuncLines     = 80
	maxTestFuncLines = 100 // a test's setup and checks read top to bottom
)

// longAllowed are the functions that may pass the limit, keyed by
// "path:name" as funcName spells it. Each has its own ceiling, a little
// above its length today, so an allowed function cannot keep growing; and
// one that falls under the limit must leave the list.
var longAllowed = map[string]struct {
	max int
	why string
}{
	// SQL text and tables: a list of statements or rows reads best whole.
	"aggregator/store/registry.go:registryDDL":                     {110, "registry tables' DDL"},
	"aggregator/store/schema.go:ddl":                               {100, "schema DDL, one statement per table"},
	"agent/plantsim/catalog.go:plantCatalog":                       {100, "the simulated plant's point table"},
	"aggregator/cmd/lifeline-aggregator/provision.go:newProvision": {95, "one cobra command literal: help text, flags and its RunE"},
	"aggregator/alarm/evaluator_test.go:TestAlarmSemantics":        {160, "a table of alarm cases, one per delay and deadband rule"},
	// Not data: its send path is being reworked; to be split after that.
	"agent/uplink/uplink.go:(*Uplink).send": {95, "to be split"},
}

// TestSizeLimits fails on a non-generated .go file over maxFileLines and
// on a function over maxFuncLines (maxTestFuncLines in _test.go) that is
// not in longAllowed.
func TestSizeLimits(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	lengths := map[string]int{} // every function's length, by key
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		files++
		return checkFile(t, path, filepath.ToSlash(rel), lengths)
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("found %d .go files; the test is not looking at the repository", files)
	}
	for key, a := range longAllowed {
		n, ok := lengths[key]
		switch {
		case !ok:
			t.Errorf("%s is allowed to be long but no longer exists; remove it from longAllowed", key)
		case n <= limitFor(key):
			t.Errorf("%s is %d lines, within the limit; remove it from longAllowed", key, n)
		case n > a.max:
			t.Errorf("%s is %d lines, over its allowed %d (%s); split it", key, n, a.max, a.why)
		}
	}
}

// skipDir: directories that hold no code of the module (tools, builds,
// fixtures, hidden directories).
func skipDir(name string) bool {
	switch name {
	case "var", "bin", "dist", "node_modules", "testdata", "vendor":
		return true
	}
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// checkFile reports the file if it is too long and every too-long function
// not in longAllowed, and records every function's length in lengths.
func checkFile(t *testing.T, path, rel string, lengths map[string]int) error {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return fmt.Errorf("parse %s: %w", rel, err)
	}
	if ast.IsGenerated(f) {
		return nil
	}
	if n := fset.File(f.Pos()).LineCount(); n > maxFileLines {
		t.Errorf("%s is %d lines, over %d: split it by concept", rel, n, maxFileLines)
	}
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		key := rel + ":" + funcName(fn)
		n := fset.Position(fn.Body.End()).Line - fset.Position(fn.Pos()).Line + 1
		lengths[key] = n
		if _, allowed := longAllowed[key]; !allowed && n > limitFor(key) {
			t.Errorf("%s is %d lines, over %d: split it into steps", key, n, limitFor(key))
		}
	}
	return nil
}

func limitFor(key string) int {
	path, _, _ := strings.Cut(key, ":")
	if strings.HasSuffix(path, "_test.go") {
		return maxTestFuncLines
	}
	return maxFuncLines
}

// funcName spells a function as "name" or a method as "(*T).name".
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	return "(" + recvType(fn.Recv.List[0].Type) + ")." + fn.Name.Name
}

func recvType(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return "*" + recvType(x.X)
	case *ast.IndexExpr: // a generic type's method
		return recvType(x.X)
	case *ast.IndexListExpr:
		return recvType(x.X)
	case *ast.Ident:
		return x.Name
	}
	return fmt.Sprintf("%T", e)
}
