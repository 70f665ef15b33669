package sm4

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The examples of GB/T 32907-2016 appendix A.
func TestBlockStandardVector(t *testing.T) {
	key := mustHex(t, "0123456789abcdeffedcba9876543210")
	b, err := NewBlock(key)
	if err != nil {
		t.Fatal(err)
	}
	want := mustHex(t, "681edf34d206965e86b3e94f536e4246")
	got := make([]byte, BlockSize)
	b.Encrypt(got, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("encrypt = %x, want %x", got, want)
	}
	b.Decrypt(got, got)
	if !bytes.Equal(got, key) {
		t.Fatalf("decrypt = %x, want %x", got, key)
	}
}

func TestBlockMillionIterations(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000,000 encryptions")
	}
	key := mustHex(t, "0123456789abcdeffedcba9876543210")
	b, err := NewBlock(key)
	if err != nil {
		t.Fatal(err)
	}
	buf := append([]byte(nil), key...)
	for range 1000000 {
		b.Encrypt(buf, buf)
	}
	if want := mustHex(t, "595298c7c6fd271f0402f804c33d3f66"); !bytes.Equal(buf, want) {
		t.Fatalf("after 1e6 encryptions = %x, want %x", buf, want)
	}
}

func TestPayloadECBKnownAnswer(t *testing.T) {
	c, err := New(Config{Mode: ModeECB, Key: "0123456789abcdeffedcba9876543210", Encoding: EncodingHex})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Encrypt(mustHex(t, "0123456789abcdeffedcba9876543210"))
	if err != nil {
		t.Fatal(err)
	}
	// One block of data plus a whole block of PKCS#7 padding (16 × 0x10).
	if !strings.HasPrefix(string(got), "681edf34d206965e86b3e94f536e4246") || len(got) != 64 {
		t.Fatalf("ecb = %s", got)
	}
}

func TestPayloadCBCKnownAnswer(t *testing.T) {
	// With an IV of zeros, CBC's first block equals ECB's.
	c, err := New(Config{Mode: ModeCBC, Key: "0123456789abcdeffedcba9876543210", IV: strings.Repeat("0", 32), Encoding: EncodingBase64})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Encrypt(mustHex(t, "0123456789abcdeffedcba9876543210"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(string(got))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 32 || hex.EncodeToString(raw[:16]) != "681edf34d206965e86b3e94f536e4246" {
		t.Fatalf("cbc = %x", raw)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	plain := []byte(`{"qybm":"91320000MA1XXXXXX","cgqbm":"T101.LT","value":"3.25","name":"液位计 一号储罐"}`)
	configs := []Config{
		{Mode: ModeCBC, Key: "1234567890abcdef", IV: "fedcba0987654321", Encoding: EncodingBase64},
		{Mode: ModeCBC, Key: "0123456789abcdeffedcba9876543210", Encoding: EncodingBase64},
		{Mode: ModeECB, Key: "1234567890abcdef", Encoding: EncodingHex},
		{Mode: ModeECB, Key: "1234567890abcdef", Encoding: EncodingRaw},
	}
	for _, cfg := range configs {
		t.Run(cfg.Mode+"/"+cfg.Encoding, func(t *testing.T) {
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range [][]byte{plain, {}, bytes.Repeat([]byte("x"), 16)} {
				enc, err := c.Encrypt(p)
				if err != nil {
					t.Fatal(err)
				}
				if len(p) > 0 && bytes.Contains(enc, p) {
					t.Fatal("plaintext visible in output")
				}
				dec, err := c.Decrypt(enc)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(dec, p) {
					t.Fatalf("round trip = %q, want %q", dec, p)
				}
			}
		})
	}
}

func TestRandomIVDiffers(t *testing.T) {
	c, err := New(Config{Mode: ModeCBC, Key: "1234567890abcdef", Encoding: EncodingBase64})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Encrypt([]byte("same"))
	b, _ := c.Encrypt([]byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two encryptions with a random IV are equal")
	}
}

func TestValidate(t *testing.T) {
	bad := map[string]Config{
		"mode":          {Mode: "gcm", Key: "1234567890abcdef", Encoding: EncodingBase64},
		"encoding":      {Mode: ModeCBC, Key: "1234567890abcdef", Encoding: "base32"},
		"short key":     {Mode: ModeCBC, Key: "short", Encoding: EncodingBase64},
		"not hex":       {Mode: ModeCBC, Key: strings.Repeat("z", 32), Encoding: EncodingBase64},
		"ecb with iv":   {Mode: ModeECB, Key: "1234567890abcdef", IV: "1234567890abcdef", Encoding: EncodingBase64},
		"short iv":      {Mode: ModeCBC, Key: "1234567890abcdef", IV: "abc", Encoding: EncodingBase64},
		"defaults only": DefaultConfig(),
	}
	for name, cfg := range bad {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, cfg)
		}
	}
	good := DefaultConfig()
	good.Key = "1234567890abcdef"
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestDecryptRejectsTampering(t *testing.T) {
	c, err := New(Config{Mode: ModeECB, Key: "1234567890abcdef", Encoding: EncodingRaw})
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := c.Encrypt([]byte("hello"))
	if _, err := c.Decrypt(enc[:10]); err == nil {
		t.Fatal("partial block accepted")
	}
}
