package channel

import (
	"errors"
	"fmt"
)

// Message is what is delivered. Text is plain; Markdown, when set, is the
// same content for destinations that render it (robots in markdown mode).
type Message struct {
	ID       string // deterministic notification id
	Subject  string
	Text     string
	Markdown string
	// Data is added to the generic webhook's JSON as "data".
	Data any
}

// markdown returns the markdown body, falling back to the text.
func (m Message) markdown() string {
	if m.Markdown != "" {
		return m.Markdown
	}
	return m.Text
}

// withID appends the notification id as a footer line, so robot messages
// carry it too.
func withID(body, id string) string {
	return body + "\n\n通知编号 " + id
}

// PermanentError is a refusal that repeating the same request will not
// change (bad URL, rejected credentials, malformed message).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is, or wraps, a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

func permanentf(format string, args ...any) error {
	return &PermanentError{Err: fmt.Errorf(format, args...)}
}
