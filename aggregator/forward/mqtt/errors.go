package mqtt

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by Send after Close or once Run has returned, and by
// Run after Close.
var ErrClosed = errors.New("mqtt publisher closed")

// errConnectionLost: the connection went down before the PUBACK came; the
// message is sent again on the next connection.
var errConnectionLost = errors.New("connection lost before PUBACK")

// errAckTimeout: no PUBACK within AckTimeout; the connection is dropped.
var errAckTimeout = errors.New("no PUBACK within ack_timeout")

// RejectedError is a PUBACK whose MQTT 5 reason code says the broker did not
// accept the message.
type RejectedError struct {
	Code   byte
	Reason string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("broker rejected the message: reason code 0x%02x %s", e.Code, e.Reason)
}

// Permanent reports whether sending the same message again cannot succeed:
// the broker refuses it for what it is, not for how busy it is.
func (e *RejectedError) Permanent() bool {
	switch e.Code {
	case 0x87, // not authorized
		0x90, // topic name invalid
		0x95, // packet too large
		0x99: // payload format invalid
		return true
	}
	return false
}
