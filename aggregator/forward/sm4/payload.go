package sm4

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Modes and encodings a province may specify.
const (
	ModeCBC = "cbc"
	ModeECB = "ecb"

	EncodingBase64 = "base64"
	EncodingHex    = "hex"
	EncodingRaw    = "raw"
)

// Config is one target's payload encryption. Key and IV are written either as
// 32 hex digits or as a 16-character string used byte for byte, the two forms
// provincial specifications hand out.
type Config struct {
	Mode     string `yaml:"mode"`     // cbc (default) or ecb
	Key      string `yaml:"key"`      // 16 bytes
	IV       string `yaml:"iv"`       // cbc only; empty: a random IV per message, sent before the ciphertext
	Encoding string `yaml:"encoding"` // base64 (default), hex or raw
}

// DefaultConfig returns the mode provinces most often specify: CBC, PKCS#7, base64.
func DefaultConfig() Config {
	return Config{Mode: ModeCBC, Encoding: EncodingBase64}
}

// Validate checks the configuration without changing it.
func (c Config) Validate() error {
	switch c.Mode {
	case ModeCBC, ModeECB:
	default:
		return fmt.Errorf("sm4 mode %q: want %s or %s", c.Mode, ModeCBC, ModeECB)
	}
	switch c.Encoding {
	case EncodingBase64, EncodingHex, EncodingRaw:
	default:
		return fmt.Errorf("sm4 encoding %q: want %s, %s or %s", c.Encoding, EncodingBase64, EncodingHex, EncodingRaw)
	}
	if _, err := parseKey(c.Key); err != nil {
		return fmt.Errorf("sm4 key: %w", err)
	}
	if c.IV != "" {
		if c.Mode == ModeECB {
			return errors.New("sm4 iv: ecb takes no iv")
		}
		if _, err := parseKey(c.IV); err != nil {
			return fmt.Errorf("sm4 iv: %w", err)
		}
	}
	return nil
}

// parseKey reads 32 hex digits or a 16-byte string.
func parseKey(s string) ([]byte, error) {
	switch len(s) {
	case 2 * BlockSize:
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("32 characters but not hex: %w", err)
		}
		return b, nil
	case BlockSize:
		return []byte(s), nil
	default:
		return nil, fmt.Errorf("%d characters, want 32 hex digits or 16 bytes", len(s))
	}
}

// Cipher encrypts and decrypts payloads; it is safe for concurrent use.
type Cipher struct {
	mode     string
	encoding string
	block    cipher.Block
	iv       []byte // nil: random per message
}

// New returns the payload cipher for a validated configuration.
func New(c Config) (*Cipher, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	key, _ := parseKey(c.Key)
	b, err := NewBlock(key)
	if err != nil {
		return nil, err
	}
	p := &Cipher{mode: c.Mode, encoding: c.Encoding, block: b}
	if c.IV != "" {
		p.iv, _ = parseKey(c.IV)
	}
	return p, nil
}

// Encrypt pads plain with PKCS#7, encrypts it and encodes the result. With CBC
// and no configured IV, a random IV is put before the ciphertext.
func (p *Cipher) Encrypt(plain []byte) ([]byte, error) {
	pad := BlockSize - len(plain)%BlockSize
	buf := make([]byte, len(plain)+pad)
	copy(buf, plain)
	copy(buf[len(plain):], bytes.Repeat([]byte{byte(pad)}, pad))

	var out []byte
	switch p.mode {
	case ModeECB:
		for i := 0; i < len(buf); i += BlockSize {
			p.block.Encrypt(buf[i:], buf[i:])
		}
		out = buf
	default:
		iv := p.iv
		if iv == nil {
			iv = make([]byte, BlockSize)
			if _, err := rand.Read(iv); err != nil {
				return nil, fmt.Errorf("sm4 iv: %w", err)
			}
		}
		cipher.NewCBCEncrypter(p.block, iv).CryptBlocks(buf, buf)
		out = buf
		if p.iv == nil {
			out = append(iv, buf...)
		}
	}
	return p.encode(out), nil
}

// Decrypt reverses Encrypt; the receiving side of tests uses it.
func (p *Cipher) Decrypt(data []byte) ([]byte, error) {
	raw, err := p.decode(data)
	if err != nil {
		return nil, err
	}
	iv := p.iv
	if p.mode == ModeCBC && iv == nil {
		if len(raw) < BlockSize {
			return nil, errors.New("sm4: ciphertext shorter than its iv")
		}
		iv, raw = raw[:BlockSize], raw[BlockSize:]
	}
	if len(raw) == 0 || len(raw)%BlockSize != 0 {
		return nil, fmt.Errorf("sm4: ciphertext of %d bytes is not whole blocks", len(raw))
	}
	plain := make([]byte, len(raw))
	if p.mode == ModeECB {
		for i := 0; i < len(raw); i += BlockSize {
			p.block.Decrypt(plain[i:], raw[i:])
		}
	} else {
		cipher.NewCBCDecrypter(p.block, iv).CryptBlocks(plain, raw)
	}
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > BlockSize || !bytes.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, errors.New("sm4: bad padding")
	}
	return plain[:len(plain)-pad], nil
}

func (p *Cipher) encode(b []byte) []byte {
	switch p.encoding {
	case EncodingHex:
		return []byte(hex.EncodeToString(b))
	case EncodingRaw:
		return b
	default:
		return []byte(base64.StdEncoding.EncodeToString(b))
	}
}

func (p *Cipher) decode(b []byte) ([]byte, error) {
	switch p.encoding {
	case EncodingHex:
		out, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("sm4: decode hex: %w", err)
		}
		return out, nil
	case EncodingRaw:
		return b, nil
	default:
		out, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("sm4: decode base64: %w", err)
		}
		return out, nil
	}
}
