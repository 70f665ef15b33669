// Package launch runs the binaries that whole-system tools (demo, bench, the
// e2e suite) start as child processes, each writing its output to a log file.
package launch

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Process is a started child process.
type Process struct {
	Name string // the binary's base name
	Log  string // the file its stdout and stderr go to

	cmd  *exec.Cmd
	err  error         // the exit status; set before done is closed
	done chan struct{} // closed once the process has exited and its log is closed
}

// Start runs bin with args, its output written to logPath (created or
// truncated). The child is killed when this process dies, so a crashed tool
// leaves nothing running behind it.
func Start(bin, logPath string, args ...string) (*Process, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log %s: %w", logPath, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &Process{Name: filepath.Base(bin), Log: logPath, cmd: cmd, done: make(chan struct{})}
	// The goroutine ends when the child does; Wait, Stop and Kill wait for it.
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid returns the child's process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to end and returns its exit status.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Stop sends SIGTERM and, if the process has not ended within limit,
// SIGKILL; it returns once the process has ended. A nil or ended Process is
// left alone.
func (p *Process) Stop(limit time.Duration) {
	if p == nil || p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.Kill()
	}
}

// Kill ends the process with SIGKILL (kill -9), as a crash or power cut
// would, and waits for it.
func (p *Process) Kill() {
	if p == nil || p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Tail returns the last n bytes of the log, for error messages.
func (p *Process) Tail(n int) string {
	data, _ := os.ReadFile(p.Log)
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}
