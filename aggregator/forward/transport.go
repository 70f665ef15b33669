package forward

import (
	"context"
	"errors"
)

// Transport carries a payload to a destination: an HTTPS URL or an MQTT
// topic. Send returns once the platform has accepted the payload (HTTP 2xx,
// MQTT PUBACK). An error that implements Permanent() bool returning true
// means the platform refused the payload for good: it is recorded as a gap
// and never sent again; any other error is retried.
type Transport interface {
	Send(ctx context.Context, dest string, payload []byte) error
	Close() error
}

// Encrypter turns a rendered payload into what the platform expects, e.g.
// SM4 ciphertext. It is applied after rendering, before Send.
type Encrypter interface {
	Encrypt(plain []byte) ([]byte, error)
}

// PermanentError is a refusal that sending again cannot change.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string   { return e.Err.Error() }
func (e *PermanentError) Unwrap() error   { return e.Err }
func (e *PermanentError) Permanent() bool { return true }

// isPermanent reports whether err, from any transport, is a refusal for
// good. Transports outside this package mark theirs with a Permanent()
// method, so they need not import it.
func isPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}
