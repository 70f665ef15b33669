//go:build !linux

package chtest

import (
	"os"
	"syscall"
)

// sysProcAttr uses the defaults: only Linux has a parent-death signal.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalProcess signals p, killing it where sig cannot be delivered.
func signalProcess(p *os.Process, sig syscall.Signal) {
	if err := p.Signal(sig); err != nil {
		_ = p.Kill()
	}
}
