package ingest

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// checkPeer makes sure the stream may write for site: its verified client
// certificate must name the site as its common name. Without mutual TLS
// (a link kept on one machine) it allows any site unless identity is required.
func (s *Service) checkPeer(ctx context.Context, site string) error {
	cn, ok := peerCommonName(ctx)
	if !ok {
		if s.opts.RequirePeerIdentity {
			return status.Error(codes.Unauthenticated, "a client certificate is required")
		}
		return nil
	}
	if cn != site {
		return status.Errorf(codes.PermissionDenied, "certificate is for site %q, hello says %q", cn, site)
	}
	return nil
}
