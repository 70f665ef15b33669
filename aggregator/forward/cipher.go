package forward

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// encode encrypts payload and encodes the ciphertext as the target's
// encrypt.encoding says (base64, hex or raw bytes).
func encode(enc Encrypter, encoding string, payload []byte) ([]byte, error) {
	ct, err := enc.Encrypt(payload)
	if err != nil {
		return nil, fmt.Errorf("encrypt payload: %w", err)
	}
	switch encoding {
	case "hex":
		return []byte(hex.EncodeToString(ct)), nil
	case "raw":
		return ct, nil
	default:
		return []byte(base64.StdEncoding.EncodeToString(ct)), nil
	}
}
