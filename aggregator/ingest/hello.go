package ingest

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// recvHello reads a stream's first message within the hello timeout. The
// stream counts as unidentified until then; one that stays silent is ended
// with DeadlineExceeded, counted and logged, so a peer opening streams it
// never speaks on cannot hold the listener.
func (s *Service) recvHello(ctx context.Context, stream lifelinev1.Ingest_StreamServer) (*lifelinev1.AgentMessage, error) {
	s.metrics.unidentified.Inc()
	defer s.metrics.unidentified.Dec()
	type result struct {
		msg *lifelinev1.AgentMessage
		err error
	}
	got := make(chan result, 1)
	// The Recv goroutine outlives a timed-out handler until gRPC ends the
	// stream; the Service owns it through receivers.
	s.receivers.Add(1)
	go func() {
		defer s.receivers.Done()
		s.guard(func(err error) { got <- result{err: err} }, func() {
			msg, err := stream.Recv()
			got <- result{msg, err}
		})
	}()
	timeout := s.opts.HelloTimeout
	if timeout <= 0 {
		timeout = DefaultStreamLimits().HelloTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-got:
		return r.msg, r.err
	case <-timer.C:
		who := identityOf(ctx)
		if who == "" {
			who = remoteHost(ctx)
		}
		s.refuse(causeHelloTimeout, who)
		return nil, status.Errorf(codes.DeadlineExceeded, "no hello within %s", timeout)
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}
