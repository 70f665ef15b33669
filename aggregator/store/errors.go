package store

import (
	"errors"
	"fmt"
	"time"

	chproto "github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

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

// ThrottleError marks a server that is overloaded (too many parts, out of
// memory, too many queries): the same input will do once it has caught up,
// so retry no sooner than After.
type ThrottleError struct {
	Err   error
	After time.Duration
}

func (e *ThrottleError) Error() string { return fmt.Sprintf("%v (retry after %s)", e.Err, e.After) }
func (e *ThrottleError) Unwrap() error { return e.Err }

// throttleWait is how long an overloaded server gets before the next try.
const throttleWait = 2 * time.Second

// ErrorCode returns the ClickHouse exception code err carries, or 0.
func ErrorCode(err error) int32 {
	var ex *chproto.Exception
	if errors.As(err, &ex) {
		return ex.Code
	}
	return 0
}

// ClickHouse exception codes (src/Common/ErrorCodes.cpp) that say the
// server is overloaded.
var throttleCodes = map[int32]bool{
	173: true, // CANNOT_ALLOCATE_MEMORY
	202: true, // TOO_MANY_SIMULTANEOUS_QUERIES
	203: true, // NO_FREE_CONNECTION
	241: true, // MEMORY_LIMIT_EXCEEDED
	252: true, // TOO_MANY_PARTS
	290: true, // LIMIT_EXCEEDED
	439: true, // CANNOT_SCHEDULE_TASK
}

// Exception codes that say nothing about the rows: the network, the
// server's state, or a schema or account an operator has to fix. Retrying
// is right; setting the rows aside would only hide the fault.
var retryCodes = map[int32]bool{
	3:    true, // UNEXPECTED_END_OF_FILE
	16:   true, // NO_SUCH_COLUMN_IN_TABLE
	32:   true, // ATTEMPT_TO_READ_AFTER_EOF
	33:   true, // CANNOT_READ_ALL_DATA
	47:   true, // UNKNOWN_IDENTIFIER
	60:   true, // UNKNOWN_TABLE
	81:   true, // UNKNOWN_DATABASE
	159:  true, // TIMEOUT_EXCEEDED
	164:  true, // READONLY
	192:  true, // UNKNOWN_USER
	193:  true, // WRONG_PASSWORD
	194:  true, // REQUIRED_PASSWORD
	209:  true, // SOCKET_TIMEOUT
	210:  true, // NETWORK_ERROR
	225:  true, // NO_ZOOKEEPER
	242:  true, // TABLE_IS_READ_ONLY
	319:  true, // UNKNOWN_STATUS_OF_INSERT
	394:  true, // QUERY_WAS_CANCELLED
	425:  true, // SYSTEM_ERROR
	497:  true, // ACCESS_DENIED
	516:  true, // AUTHENTICATION_FAILED
	999:  true, // KEEPER_EXCEPTION
	1000: true, // POCO_EXCEPTION
	1001: true, // STD_EXCEPTION
	1002: true, // UNKNOWN_EXCEPTION
}

// classify marks an error of an insert once, where ClickHouse answered:
// an exception about the rows themselves (a value a column cannot hold,
// a parse error, a check that threw) is permanent, an overloaded server
// throttles, and everything else (network, timeouts, a server restarting,
// a missing table) is worth retrying as is.
func classify(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	var ex *chproto.Exception
	if !errors.As(err, &ex) {
		return err
	}
	switch {
	case throttleCodes[ex.Code]:
		return &ThrottleError{Err: err, After: throttleWait}
	case retryCodes[ex.Code]:
		return err
	default:
		return permanent(err)
	}
}
