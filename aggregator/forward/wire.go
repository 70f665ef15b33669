package forward

import "fmt"

// newMQTT and newEncrypter connect this package to the MQTT transport and
// the SM4 cipher.
func newMQTT(t Target) (Transport, error) {
	return nil, fmt.Errorf("target %s: the mqtt transport is not built in", t.Name)
}

func newEncrypter(t Target) (Encrypter, error) {
	if t.Encrypt.Cipher == "" {
		return nil, nil
	}
	return nil, fmt.Errorf("target %s: cipher %q is not built in", t.Name, t.Encrypt.Cipher)
}
