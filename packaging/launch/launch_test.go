package launch

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func shell(t *testing.T) string {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

func TestOutputGoesToLogAndExitStatusIsKept(t *testing.T) {
	log := filepath.Join(t.TempDir(), "child.log")
	p, err := Start(shell(t), log, "-c", "echo out; echo err >&2; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	var exit *exec.ExitError
	if err := p.Wait(); !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("Wait: %v, want exit status 3", err)
	}
	if !p.Exited() || p.Name != "sh" {
		t.Fatalf("Exited %v, Name %q", p.Exited(), p.Name)
	}
	if got := p.Tail(1000); got != "out\nerr\n" {
		t.Fatalf("log %q", got)
	}
	if got := p.Tail(4); got != "err\n" {
		t.Fatalf("Tail(4) %q", got)
	}
	p.Stop(time.Second) // ended already: nothing to do
	p.Kill()
}

func TestStopTermsThenKillsAfterTheDeadline(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		script   string
		limit    time.Duration
		min, max time.Duration
	}{
		{"exec sleep 30", 10 * time.Second, 0, 5 * time.Second},                                          // ends on SIGTERM
		{`trap "" TERM; exec sleep 30`, 300 * time.Millisecond, 300 * time.Millisecond, 5 * time.Second}, // needs SIGKILL
	} {
		p, err := Start(shell(t), filepath.Join(dir, "sleep.log"), "-c", c.script)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // let sh install the trap
		start := time.Now()
		p.Stop(c.limit)
		took := time.Since(start)
		if !p.Exited() || took < c.min || took > c.max {
			t.Fatalf("%s: Stop took %v (exited %v), want %v..%v", c.script, took, p.Exited(), c.min, c.max)
		}
		want := "signal: terminated"
		if c.min > 0 {
			want = "signal: killed"
		}
		if err := p.Wait(); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: exit %v, want %s", c.script, err, want)
		}
	}
}

func TestKillAndNil(t *testing.T) {
	p, err := Start(shell(t), filepath.Join(t.TempDir(), "k.log"), "-c", `trap "" TERM; exec sleep 30`)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pid() <= 0 {
		t.Fatalf("pid %d", p.Pid())
	}
	p.Kill()
	if err := p.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("exit %v", err)
	}
	var none *Process
	none.Stop(time.Second)
	none.Kill()
	if _, err := Start(filepath.Join(t.TempDir(), "missing"), filepath.Join(t.TempDir(), "m.log")); err == nil {
		t.Fatal("started a missing binary")
	}
}
