package uplink

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// refusedWait is the least time between attempts while the aggregator
// refuses this agent outright (certificate, site, configuration): retrying
// sooner cannot help and would only flood both logs.
const refusedWait = time.Minute

// retryAfter ends a session whose aggregator asked for a pause: a nacked
// batch is kept and sent again on the next session, no sooner than after.
type retryAfter struct {
	err   error
	after time.Duration
}

func (e *retryAfter) Error() string { return e.err.Error() }
func (e *retryAfter) Unwrap() error { return e.err }

// nacked accounts for a batch the aggregator did not commit. The batch stays
// in the buffer; the session ends and the next one sends it again, which
// also keeps the aggregator's sequence checks simple.
func (u *Uplink) nacked(n *lifelinev1.Nack) error {
	u.nacks.Add(1)
	after := time.Duration(n.GetRetryAfterMs()) * time.Millisecond
	reason := fmt.Sprintf("batch %d not committed: %s", n.GetSeq(), n.GetReason())
	u.lastRefusal.Store(&reason)
	if !n.GetRetryable() {
		after = max(after, refusedWait)
		u.logger.Error("aggregator cannot commit a batch; keeping it", "seq", n.GetSeq(), "reason", n.GetReason(), "retry_in", after)
	} else {
		u.logger.Warn("aggregator did not commit a batch; keeping it to send again", "seq", n.GetSeq(),
			"reason", n.GetReason(), "retry_in", after)
	}
	return &retryAfter{err: fmt.Errorf("nack for batch %d: %s", n.GetSeq(), n.GetReason()), after: after}
}

// noteSetAside accounts for an ack whose rows ClickHouse refused for good:
// the aggregator kept them in its rejected_batches table, so the batch may
// be deleted, but someone has to look at why.
func (u *Uplink) noteSetAside(ack *lifelinev1.Ack) {
	if ack.GetSetAside() == "" {
		return
	}
	u.setAside.Add(uint64(ack.GetSetAsideSamples()))
	reason := fmt.Sprintf("batch %d: %d samples set aside: %s", ack.GetSeq(), ack.GetSetAsideSamples(), ack.GetSetAside())
	u.lastRefusal.Store(&reason)
	u.logger.Error("aggregator set samples aside that ClickHouse refused (kept in its rejected_batches table)",
		"seq", ack.GetSeq(), "samples", ack.GetSetAsideSamples(), "reason", ack.GetSetAside())
}

// linkWait returns how long to wait before the next session after err,
// given the jittered backoff: at least what the aggregator asked for (a
// nack's retry_after, a RetryInfo on Unavailable or ResourceExhausted),
// and a long pause when it refuses this agent outright.
func (u *Uplink) linkWait(err error, jittered time.Duration) time.Duration {
	var ra *retryAfter
	if errors.As(err, &ra) {
		return max(jittered, ra.after)
	}
	st, ok := status.FromError(err)
	if !ok {
		return jittered
	}
	switch st.Code() {
	case codes.PermissionDenied, codes.Unauthenticated, codes.FailedPrecondition, codes.InvalidArgument, codes.Unimplemented:
		wait := max(jittered, refusedWait)
		reason := fmt.Sprintf("%s: %s", st.Code(), st.Message())
		u.lastRefusal.Store(&reason)
		u.logger.Error("aggregator refuses this agent; check its certificate, site id and configuration",
			"addr", u.addresses(), "code", st.Code().String(), "reason", st.Message(), "retry_in", wait)
		return wait
	case codes.Unavailable, codes.ResourceExhausted:
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.RetryInfo); ok && info.GetRetryDelay() != nil {
				return max(jittered, info.GetRetryDelay().AsDuration())
			}
		}
	}
	return jittered
}
