// Package sm4 encrypts forwarded payloads with the SM4 block cipher (GB/T 32907-2016),
// in ECB or CBC mode with PKCS#7 padding, as provincial access specifications ask.
package sm4

import (
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// BlockSize is SM4's block size in bytes; keys are the same length.
const BlockSize = 16

// block is one SM4 key schedule; it implements cipher.Block so the standard
// library's CBC mode can drive it.
type block struct {
	enc [32]uint32
	dec [32]uint32
}

var _ cipher.Block = (*block)(nil)

// NewBlock returns the SM4 block cipher for a 16-byte key.
func NewBlock(key []byte) (cipher.Block, error) {
	if len(key) != BlockSize {
		return nil, fmt.Errorf("sm4: key is %d bytes, want %d", len(key), BlockSize)
	}
	b := &block{}
	var k [4]uint32
	for i := range k {
		k[i] = binary.BigEndian.Uint32(key[4*i:]) ^ fk[i]
	}
	for i := range 32 {
		rk := k[0] ^ keyT(k[1]^k[2]^k[3]^ck[i])
		k[0], k[1], k[2], k[3] = k[1], k[2], k[3], rk
		b.enc[i] = rk
		b.dec[31-i] = rk
	}
	return b, nil
}

func (b *block) BlockSize() int { return BlockSize }

func (b *block) Encrypt(dst, src []byte) { crypt(&b.enc, dst, src) }

func (b *block) Decrypt(dst, src []byte) { crypt(&b.dec, dst, src) }

// crypt runs the 32 rounds; decryption is the same with the round keys reversed.
func crypt(rk *[32]uint32, dst, src []byte) {
	if len(src) < BlockSize || len(dst) < BlockSize {
		panic("sm4: input not a full block")
	}
	x0 := binary.BigEndian.Uint32(src[0:])
	x1 := binary.BigEndian.Uint32(src[4:])
	x2 := binary.BigEndian.Uint32(src[8:])
	x3 := binary.BigEndian.Uint32(src[12:])
	for i := 0; i < 32; i += 4 {
		x0 ^= roundT(x1 ^ x2 ^ x3 ^ rk[i])
		x1 ^= roundT(x2 ^ x3 ^ x0 ^ rk[i+1])
		x2 ^= roundT(x3 ^ x0 ^ x1 ^ rk[i+2])
		x3 ^= roundT(x0 ^ x1 ^ x2 ^ rk[i+3])
	}
	// The output is the final four words in reverse order (R in the standard).
	binary.BigEndian.PutUint32(dst[0:], x3)
	binary.BigEndian.PutUint32(dst[4:], x2)
	binary.BigEndian.PutUint32(dst[8:], x1)
	binary.BigEndian.PutUint32(dst[12:], x0)
}

// tau applies the S-box to each byte of a word.
func tau(a uint32) uint32 {
	return uint32(sbox[a>>24])<<24 | uint32(sbox[a>>16&0xff])<<16 | uint32(sbox[a>>8&0xff])<<8 | uint32(sbox[a&0xff])
}

// roundT is the round function's T = L∘τ.
func roundT(a uint32) uint32 {
	b := tau(a)
	return b ^ bits.RotateLeft32(b, 2) ^ bits.RotateLeft32(b, 10) ^ bits.RotateLeft32(b, 18) ^ bits.RotateLeft32(b, 24)
}

// keyT is the key schedule's T' = L'∘τ.
func keyT(a uint32) uint32 {
	b := tau(a)
	return b ^ bits.RotateLeft32(b, 13) ^ bits.RotateLeft32(b, 23)
}
