//go:build linux

package chtest

import (
	"os"
	"syscall"
)

// sysProcAttr puts the server in its own process group and has the kernel
// kill it when the test process dies, so a crashed test leaves no server.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalProcess signals the process group p leads, so anything the server
// spawned goes too; it falls back to p alone.
func signalProcess(p *os.Process, sig syscall.Signal) {
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		_ = p.Signal(sig)
	}
}
