package ingest

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// checkPeer makes sure the stream may write for site: its verified client
// certificate must name the site as its common name. Without mutual TLS
// (a link kept on one machine) it allows any site unless identity is required.
func (s *Service) checkPeer(ctx context.Context, site string) error {
	p, ok := peer.FromContext(ctx)
	var tlsInfo credentials.TLSInfo
	if ok && p.AuthInfo != nil {
		tlsInfo, ok = p.AuthInfo.(credentials.TLSInfo)
	} else {
		ok = false
	}
	if !ok || len(tlsInfo.State.VerifiedChains) == 0 || len(tlsInfo.State.VerifiedChains[0]) == 0 {
		if s.opts.RequirePeerIdentity {
			return status.Error(codes.Unauthenticated, "a client certificate is required")
		}
		return nil
	}
	leaf := tlsInfo.State.VerifiedChains[0][0]
	if leaf.Subject.CommonName != site {
		return status.Errorf(codes.PermissionDenied, "certificate is for site %q, hello says %q", leaf.Subject.CommonName, site)
	}
	return nil
}
