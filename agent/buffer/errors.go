package buffer

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by operations on a closed Queue.
	ErrClosed = errors.New("buffer closed")

	// ErrTooLarge is returned by Append when one entry alone is larger than
	// Options.MaxBytes.
	ErrTooLarge = errors.New("entry larger than the buffer's MaxBytes")

	// ErrLocked is returned by Open when the directory is already open, by
	// this process or another one.
	ErrLocked = errors.New("buffer directory is locked by another open queue")
)

// CorruptionError describes a queue directory that Badger could not open
// because its files are damaged. Open moves such a directory aside and starts
// an empty queue; Queue.Quarantined returns the error so the caller can
// report what was lost. If the directory cannot be moved aside, Open returns
// it (read it with errors.As).
type CorruptionError struct {
	Dir           string // the queue directory
	QuarantinedTo string // where the damaged files are now; empty if moving them failed
	Err           error  // Badger's error
}

func (e *CorruptionError) Error() string {
	if e.QuarantinedTo == "" {
		return fmt.Sprintf("buffer %s is corrupt: %v", e.Dir, e.Err)
	}
	return fmt.Sprintf("buffer %s was corrupt and was moved to %s: %v", e.Dir, e.QuarantinedTo, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }
