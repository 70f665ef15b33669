package scrape

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

// Ready reads the /readyz report at url (http://host:port/readyz): each
// check, passed or failed, with why.
func Ready(ctx context.Context, url string) (obs.HealthReport, error) {
	body, err := get(ctx, url+"?format=json", http.StatusOK, http.StatusServiceUnavailable)
	if err != nil {
		return obs.HealthReport{}, err
	}
	defer body.Close()
	var rep obs.HealthReport
	if err := json.NewDecoder(body).Decode(&rep); err != nil {
		return obs.HealthReport{}, fmt.Errorf("parse %s: %w", url, err)
	}
	return rep, nil
}
