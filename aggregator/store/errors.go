package store

import "errors"

// PermanentError marks a failure that retrying the same input cannot fix
// (an invalid batch, a value the column cannot hold). Anything else from
// the store may be transient: the server restarting, a network cut.
type PermanentError struct {
	Err error
}

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// permanent wraps err as a PermanentError.
func permanent(err error) error { return &PermanentError{Err: err} }

// IsPermanent reports whether err is, or wraps, a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
