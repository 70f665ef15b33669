package ingest

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// parkBook tells where a site's park comes from; *store.Store is one. A
// ledger that is not one (a test's) leaves the hello's park as it is.
type parkBook interface {
	SitePark(ctx context.Context, siteID string) (store.SitePark, error)
}

// admitPark settles the hello's park before the stream claims its site, so
// a refused hello never displaces the site's live stream: hello.Park is
// replaced by the park to record. The lookup takes a handshake slot.
func (s *Service) admitPark(ctx context.Context, hello *lifelinev1.Hello) error {
	select {
	case s.handshakes <- struct{}{}:
		defer func() { <-s.handshakes }()
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
	park, err := s.resolvePark(ctx, hello.GetSiteId(), hello.GetPark())
	if err != nil {
		return err
	}
	hello.Park = park
	return nil
}

// resolvePark returns the park to record for site. The registry decides;
// for a site it names no park for, the first park announced is pinned. A
// hello naming another park is refused: dashboards and provisioning scope
// a park's team by this column, so an agent must not move its site.
func (s *Service) resolvePark(ctx context.Context, site, announced string) (string, error) {
	book, ok := s.ledger.(parkBook)
	if !ok {
		return announced, nil
	}
	p, err := book.SitePark(ctx, site)
	if err != nil {
		return "", status.Errorf(codes.Unavailable, "read park: %v", err)
	}
	if !p.InRegistry && s.opts.RequireRegistered {
		return "", s.refuseSent(site, causeUnregistered, status.Errorf(codes.FailedPrecondition,
			"site %q is not in the aggregator's registry and require_registered is set", site))
	}
	want, from := p.Registered, "the registry"
	if want == "" {
		want, from = p.Stored, "this site's first hello (pinned)"
	}
	switch {
	case want == "":
		return announced, nil
	case announced == "" || announced == want:
		return want, nil
	}
	return "", s.refuseSent(site, causeParkMismatch, status.Errorf(codes.FailedPrecondition,
		"hello says park %s, %s says %s: a site cannot change its park; fix the agent's config or the registry", quote(announced), from, quote(want)))
}
