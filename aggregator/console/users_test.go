package console_test

import (
	"strings"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/console"
)

// A users file with a mistake is refused whole, naming the mistake.
func TestUsersFileMistakes(t *testing.T) {
	hash, err := console.HashPassword("long enough")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ file, want string }{
		{"parks:\n  A:\n    - name: zhang\n      password: x\n", "field password not found"},
		{"parks:\n  A:\n    - name: zhang\n  B:\n    - name: zhang\n", "listed twice"},
		{"parks:\n  A:\n    - name: zhang\n      password_hash: plain\n", "not a bcrypt hash"},
		{"parks:\n  A:\n    - name: \"\"\n", "without a name"},
	} {
		if _, err := console.ParseUsers([]byte(c.file)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error saying %q", c.file, err, c.want)
		}
	}
	if us, err := console.ParseUsers([]byte("parks:\n  A:\n    - name: zhang\n      password_hash: \"" + hash + "\"\n")); err != nil || len(us) != 1 {
		t.Fatalf("good file: %v %v", us, err)
	}
	if _, err := console.HashPassword("short"); err == nil {
		t.Fatal("a 5-character password hashed")
	}
}
