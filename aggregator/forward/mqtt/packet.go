package mqtt

import "fmt"

// maxPacket is the largest packet MQTT can frame: a 1-byte header, a 4-byte
// remaining length and 268,435,455 bytes.
const maxPacket = 1 + 4 + 268435455

// publishSize is the size on the wire of a QoS 1 PUBLISH of payload to
// topic without properties.
func publishSize(version int, topic string, payload []byte) int {
	rest := 2 + len(topic) + 2 + len(payload) // topic, packet ID, payload
	if version == 5 {
		rest++ // property length 0
	}
	n := 1 + 1
	for r := rest; r > 127; r >>= 7 {
		n++
	}
	return n + rest
}

// checkSize refuses a message larger than limit (0: none) for good.
func checkSize(version int, topic string, payload []byte, limit int) error {
	if size := publishSize(version, topic, payload); limit > 0 && size > limit || size > maxPacket {
		return &RejectedError{Code: 0x95, Reason: fmt.Sprintf("PUBLISH of %d bytes is larger than the broker's maximum of %d", size, min(limit, maxPacket))}
	}
	return nil
}
