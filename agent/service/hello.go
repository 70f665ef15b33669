package service

import (
	"time"

	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Hello builds the agent's introduction: its site and its point catalog.
// The uplink adds, per connection, what belongs to the buffer: its identity
// (buffer_id, which can change while the agent runs) and its sequence
// numbers.
func Hello(cfg config.Config, version string) *lifelinev1.Hello {
	hazards := make(map[string]config.HazardSource, len(cfg.HazardSources))
	for _, h := range cfg.HazardSources {
		hazards[h.Code] = h
	}
	h := &lifelinev1.Hello{SiteId: cfg.Site.ID, Park: cfg.Site.Park, AgentVersion: version}
	for _, src := range cfg.Sources {
		for _, p := range src.Points {
			pt := &lifelinev1.Point{
				Id: p.ID, Name: p.Name, Description: p.Description, Unit: p.Unit, Kind: p.Kind,
				Equipment: p.Equipment, NodeId: p.Node, Endpoint: src.Endpoint, OutOfService: p.OutOfService,
			}
			if p.Range != nil {
				pt.RangeLow, pt.RangeHigh = &p.Range.Low, &p.Range.High
			}
			if l := p.Limits; l != nil {
				pt.Limits = &lifelinev1.Limits{LowLow: l.LowLow, Low: l.Low, High: l.High, HighHigh: l.HighHigh,
					Stage1: l.Stage1, Stage2: l.Stage2, Deadband: l.Deadband,
					OnDelayMs: delayMs(l.OnDelay), OffDelayMs: delayMs(l.OffDelay)}
			}
			if hs, ok := hazards[p.HazardSource]; ok {
				pt.HazardSource = &lifelinev1.HazardSource{Code: hs.Code, Name: hs.Name, Level: uint32(hs.Level)}
			}
			h.Points = append(h.Points, pt)
		}
	}
	return h
}

// clientCredentials loads the link's TLS settings and returns when the
// agent's certificate expires (Unix ns; 0 without TLS), which the agent
// reports so operators see expiries coming.
func clientCredentials(c config.TLS) (credentials.TransportCredentials, int64, error) {
	if c.Insecure {
		return insecure.NewCredentials(), 0, nil
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, 0, fmt.Errorf("load agent certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, 0, fmt.Errorf("parse agent certificate %s: %w", c.CertFile, err)
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, 0, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, 0, fmt.Errorf("CA %s: no PEM certificates found", c.CAFile)
	}
	return credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   c.ServerName,
		MinVersion:   tls.VersionTLS12,
	}), leaf.NotAfter.UnixNano(), nil
}

// delayMs is a point's alarm delay as the protocol carries it: nil (the
// aggregator's default) or milliseconds.
func delayMs(d *config.Duration) *int64 {
	if d == nil {
		return nil
	}
	ms := time.Duration(*d).Milliseconds()
	return &ms
}
