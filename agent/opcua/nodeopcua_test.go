package opcua

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// nodeOPCUAVersion is the node-opcua release the interoperability tests
// install (into var/node-opcua, ignored by git) when it is missing.
const nodeOPCUAVersion = "2.182.2"

// nodeNS is the namespace of the node-opcua test server.
const nodeNS = "urn:test:node-opcua"

var nodeInstall struct {
	once sync.Once
	dir  string
	err  error
}

// repoRoot is the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// needNodeOPCUA returns the node_modules directory holding node-opcua,
// installing it with npm when missing. Without node or npm the test is
// skipped, except in CI (env CI set) where it fails.
func needNodeOPCUA(t *testing.T) string {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("node-opcua interoperability test cannot run in CI: "+format, args...)
		}
		t.Skipf("node-opcua not available: "+format, args...)
	}
	if _, err := exec.LookPath("node"); err != nil {
		unavailable("node is not installed (apt-get install nodejs npm)")
	}
	root := repoRoot(t)
	nodeInstall.once.Do(func() {
		nodeInstall.dir, nodeInstall.err = installNodeOPCUA(filepath.Join(root, "var", "node-opcua"))
	})
	if nodeInstall.err != nil {
		unavailable("%v", nodeInstall.err)
	}
	return nodeInstall.dir
}

func installNodeOPCUA(dir string) (string, error) {
	modules := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "node-opcua", "package.json")); err == nil {
		return modules, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", errors.New("npm is not installed (apt-get install npm)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "node-opcua@"+nodeOPCUAVersion)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", errors.New("npm install node-opcua@" + nodeOPCUAVersion + " in " + dir + ": " + err.Error() + "\n" + string(out))
	}
	return modules, nil
}

// nodeServer is a running node-opcua test server.
type nodeServer struct {
	endpoint string
	pki      string // the server's PKI directory
	certFile string // its certificate (PEM)
}

// startNodeServer starts testdata/node-opcua-server.js on a free loopback
// port with its PKI in pkiDir; trust lists DER files of client
// certificates the server trusts.
func startNodeServer(t *testing.T, trust ...[]byte) *nodeServer {
	t.Helper()
	return startNodeServerEnv(t, nil, trust...)
}

// startNodeServerEnv is startNodeServer with env added to the server's
// environment (e.g. LIFELINE_HISTORY=1).
func startNodeServerEnv(t *testing.T, env []string, trust ...[]byte) *nodeServer {
	t.Helper()
	modules := needNodeOPCUA(t)
	pkiDir := filepath.Join(t.TempDir(), "server-pki")
	trusted := filepath.Join(pkiDir, "trusted", "certs")
	if err := os.MkdirAll(trusted, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, der := range trust {
		if err := os.WriteFile(filepath.Join(trusted, "client"+strconv.Itoa(i)+".der"), der, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "node-opcua-server.js"), strconv.Itoa(port), pkiDir)
	cmd.Env = append(append(os.Environ(), "NODE_PATH="+modules), env...)
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if f, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- f
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		stdin.Close()
		cancel()
		cmd.Wait()
		<-done
	})
	select {
	case f := <-ready:
		return &nodeServer{endpoint: "opc.tcp://127.0.0.1:" + strconv.Itoa(port), pki: pkiDir, certFile: f}
	case <-done:
		t.Fatalf("node-opcua server exited before it was ready:\n%s", stderr.String())
	case <-time.After(3 * time.Minute): // 17 s at load average 34 on 2 cores, over a minute at 40
		t.Fatalf("node-opcua server not ready after 3 minutes:\n%s", stderr.String())
	}
	return nil
}
