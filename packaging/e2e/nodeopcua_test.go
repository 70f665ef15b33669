package e2e

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// nodeOPCUA returns the repository root, the node-opcua modules that make
// node-opcua installs under var/, and a free loopback port for a server
// script. Without node-opcua the test fails under CI and skips elsewhere.
func nodeOPCUA(t *testing.T) (root, modules string, port int) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	modules = filepath.Join(root, "var", "node-opcua", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "node-opcua", "package.json")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node-opcua missing under %s: make node-opcua installs it", modules)
		}
		t.Skipf("node-opcua not installed under %s (make node-opcua installs it)", modules)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	return root, modules, port
}
