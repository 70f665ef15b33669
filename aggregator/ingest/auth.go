package ingest

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

type identityKey struct{}

// authenticate is the auth interceptor's check: a stream's identity is the
// common name of its verified client certificate, known before any message
// is read, so limits can be kept per identity. Without one the stream is
// refused unless identity is not required (a link on one machine).
func (s *Service) authenticate(ctx context.Context) (context.Context, error) {
	cn, ok := peerCommonName(ctx)
	if !ok {
		if s.opts.RequirePeerIdentity {
			s.refuse(causeUnauthenticated, remoteHost(ctx))
			return nil, status.Error(codes.Unauthenticated, "a client certificate is required")
		}
		return ctx, nil
	}
	if err := validateID(cn); err != nil {
		s.refuse(causeUnauthenticated, remoteHost(ctx))
		return nil, status.Errorf(codes.Unauthenticated, "certificate common name: %v", err)
	}
	return context.WithValue(ctx, identityKey{}, cn), nil
}

// identityOf returns the identity authenticate found, "" for none.
func identityOf(ctx context.Context) string {
	id, _ := ctx.Value(identityKey{}).(string)
	return id
}

func peerCommonName(ctx context.Context) (string, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return "", false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return "", false
	}
	return info.State.VerifiedChains[0][0].Subject.CommonName, true
}
