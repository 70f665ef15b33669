package ingest

import (
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// retryLater returns a gRPC error telling the agent when to try again
// (a RetryInfo detail), so a crowd of refused agents spreads out instead
// of returning on their own shorter backoff.
func retryLater(code codes.Code, after time.Duration, format string, args ...any) error {
	st := status.New(code, fmt.Sprintf(format, args...))
	if withInfo, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(after)}); err == nil {
		st = withInfo
	}
	return st.Err()
}
