package winservice

import (
	"context"
	"fmt"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
)

// IsService reports whether the SCM started this process as a service.
func IsService() bool {
	ok, err := svc.IsWindowsService()
	return err == nil && ok
}

// Run runs fn as the service until fn returns or the SCM asks the service
// to stop or the machine shuts down (pre-shutdown or shutdown), which
// cancels fn's context. An error
// from fn that was not asked for ends the service with exit code 1, which
// the SCM's recovery actions answer with a restart. The start, the stop
// and any error also go to the Application event log.
func Run(fn func(ctx context.Context) error) error {
	h := &handler{fn: fn}
	if l, err := eventlog.Open(Name); err == nil {
		h.elog = l
		defer l.Close()
	}
	if err := svc.Run(Name, h); err != nil {
		return fmt.Errorf("run service %s: %w", Name, err)
	}
	return h.err
}

type handler struct {
	fn   func(ctx context.Context) error
	elog *eventlog.Log
	err  error
}

// Execute is called by svc.Run on the service's own goroutine.
func (h *handler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	// The SCM is the process's caller here: the service's life starts below.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	status <- svc.Status{State: svc.StartPending}
	done := make(chan error, 1)
	go func() { done <- h.fn(ctx) }()
	// Pre-shutdown comes before the machine's shutdown and may take longer
	// (the service's PreshutdownTimeout) than the few seconds shutdown gets:
	// time to drain acks and close the buffer.
	running := svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown | svc.AcceptPreShutdown}
	status <- running
	h.event(eventlog.Info, "started")
	stopping := false
	for {
		select {
		case err := <-done:
			h.err = err
			switch {
			case err != nil && !stopping:
				h.event(eventlog.Error, "stopped on error: "+err.Error())
				return true, 1
			case err != nil:
				h.event(eventlog.Warning, "stopped; shutting down reported: "+err.Error())
			default:
				h.event(eventlog.Info, "stopped")
			}
			return false, 0
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown, svc.PreShutdown:
				if !stopping {
					stopping = true
					// The agent drains acks for aggregator.shutdown_drain, then closes its buffer.
					status <- svc.Status{State: svc.StopPending, WaitHint: 30_000}
					cancel()
				}
			}
		}
	}
}

func (h *handler) event(kind uint32, msg string) {
	if h.elog == nil {
		return
	}
	switch kind {
	case eventlog.Error:
		h.elog.Error(1, msg)
	case eventlog.Warning:
		h.elog.Warning(1, msg)
	default:
		h.elog.Info(1, msg)
	}
}
