package ingest

import (
	"runtime/debug"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// recovered turns a panic into an Internal status: the stream ends, the
// process keeps serving every other agent. It is the recovery
// interceptor's handler and is called by goroutines a handler starts.
func (s *Service) recovered(p any) error {
	s.metrics.panics.Inc()
	s.logger.Error("panic in ingest handler", "panic", p, "stack", string(debug.Stack()))
	return status.Error(codes.Internal, "internal error")
}

// guard runs fn, reporting a panic in it through report instead of
// crashing the process; for goroutines outside the recovery interceptor.
func (s *Service) guard(report func(error), fn func()) {
	defer func() {
		if p := recover(); p != nil {
			report(s.recovered(p))
		}
	}()
	fn()
}
