package forward

import (
	"fmt"
	"log/slog"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward/mqtt"
	"github.com/lifeline-telemetry/lifeline/aggregator/forward/sm4"
)

// newMQTT returns t's MQTT publisher. It does not connect: the runner runs
// it (see runnable).
func newMQTT(t Target, logger *slog.Logger) (Transport, error) {
	p, err := mqtt.New(t.MQTT, logger)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	return p, nil
}

// newEncrypter returns t's payload cipher, nil for plain text.
func newEncrypter(t Target) (Encrypter, error) {
	if t.Encryption == nil {
		return nil, nil
	}
	c, err := sm4.New(*t.Encryption)
	if err != nil {
		return nil, fmt.Errorf("target %s: encryption: %w", t.Name, err)
	}
	return c, nil
}
