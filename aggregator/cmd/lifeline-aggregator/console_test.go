package main

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/lifeline-telemetry/lifeline/aggregator/console"
)

// console passwd prints a hash the users file accepts and that matches
// the password it read; a short password is refused.
func TestConsolePasswd(t *testing.T) {
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetArgs([]string{"console", "passwd"})
	root.SetIn(strings.NewReader("correct horse\n"))
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err := root.Execute(); err != nil {
		t.Fatalf("passwd: %v (%s)", err, errOut.String())
	}
	hash := strings.TrimSpace(out.String())
	if !strings.HasPrefix(hash, "$2") {
		t.Fatalf("not a bcrypt hash: %q", hash)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("correct horse")); err != nil {
		t.Fatalf("hash does not match the password: %v", err)
	}
	if _, err := console.ParseUsers([]byte("parks:\n  P:\n    - name: u\n      password_hash: \"" + hash + "\"\n")); err != nil {
		t.Fatalf("users file with the hash: %v", err)
	}
	root = newRoot()
	root.SetArgs([]string{"console", "passwd"})
	root.SetIn(strings.NewReader("short\n"))
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err := root.Execute(); err == nil {
		t.Fatal("a 5-character password hashed")
	}
}
