package opcua

import (
	"errors"
	"strings"
	"testing"

	"github.com/gopcua/opcua/ua"
)

var testNamespaces = []string{"http://opcfoundation.org/UA/", "urn:other", "urn:test:plant"}

func TestParseNodeID(t *testing.T) {
	tests := []struct {
		in      string
		want    *ua.NodeID
		wantErr string
	}{
		{in: "nsu=urn:test:plant;s=T101.LT", want: ua.NewStringNodeID(2, "T101.LT")},
		{in: "nsu=urn:test:plant;s=储罐;液位=1", want: ua.NewStringNodeID(2, "储罐;液位=1")},
		{in: "nsu=urn:other;i=1234", want: ua.NewFourByteNodeID(1, 1234)},
		{in: "nsu=urn:other;i=4000000000", want: ua.NewNumericNodeID(1, 4000000000)},
		{in: "nsu=urn:test:plant;g=5ce9dbce-5d79-434c-9ac3-1cfba9a6e92c", want: ua.NewGUIDNodeID(2, "5ce9dbce-5d79-434c-9ac3-1cfba9a6e92c")},
		{in: "nsu=urn:test:plant;b=AQID", want: ua.NewByteStringNodeID(2, []byte{1, 2, 3})},
		{in: "i=2258", want: ua.NewFourByteNodeID(0, 2258)},
		{in: "i=85", want: ua.NewTwoByteNodeID(85)},
		{in: "s=Hello", want: ua.NewStringNodeID(0, "Hello")},
		{in: "nsu=http://opcfoundation.org/UA/;i=2255", want: ua.NewFourByteNodeID(0, 2255)},

		{in: "nsu=urn:missing;s=X", wantErr: `namespace "urn:missing" is not in the server's namespace array (known: "http://opcfoundation.org/UA/", "urn:other", "urn:test:plant")`},
		{in: "ns=2;s=X", wantErr: "namespace index"},
		{in: "nsu=;s=X", wantErr: "want nsu=URI;s="},
		{in: "nsu=urn:test:plant", wantErr: "want nsu=URI;s="},
		{in: "nsu=urn:test:plant;x=1", wantErr: "identifier must be"},
		{in: "nsu=urn:test:plant;i=-1", wantErr: "numeric identifier"},
		{in: "nsu=urn:test:plant;i=4294967296", wantErr: "numeric identifier"},
		{in: "nsu=urn:test:plant;g=nope", wantErr: "guid"},
		{in: "nsu=urn:test:plant;b=!!", wantErr: "opaque"},
		{in: "T101.LT", wantErr: "identifier must be"},
		{in: "", wantErr: "identifier must be"},
	}
	for _, tt := range tests {
		got, err := ParseNodeID(tt.in, testNamespaces)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseNodeID(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseNodeID(%q): %v", tt.in, err)
			continue
		}
		if got.String() != tt.want.String() || got.Type() != tt.want.Type() {
			t.Errorf("ParseNodeID(%q) = %s (%v), want %s (%v)", tt.in, got, got.Type(), tt.want, tt.want.Type())
		}
	}
}

func TestParseNodeIDUnknownNamespaceIsTyped(t *testing.T) {
	_, err := ParseNodeID("nsu=urn:gone;s=X", testNamespaces)
	var nsErr *UnknownNamespaceError
	if !errors.As(err, &nsErr) || nsErr.URI != "urn:gone" {
		t.Fatalf("err = %v, want *UnknownNamespaceError for urn:gone", err)
	}
}

// The index follows the namespace array: the same configured node resolves
// to different indexes on servers that order their namespaces differently.
func TestParseNodeIDFollowsNamespaceArray(t *testing.T) {
	a, err := ParseNodeID("nsu=urn:test:plant;s=T", []string{"http://opcfoundation.org/UA/", "urn:test:plant"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseNodeID("nsu=urn:test:plant;s=T", []string{"http://opcfoundation.org/UA/", "urn:x", "urn:y", "urn:test:plant"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Namespace() != 1 || b.Namespace() != 3 {
		t.Fatalf("namespaces %d and %d, want 1 and 3", a.Namespace(), b.Namespace())
	}
}

func FuzzParseNodeID(f *testing.F) {
	for _, s := range []string{
		"nsu=urn:test:plant;s=T101.LT", "nsu=urn:other;i=1", "i=2258", "s=x", "g=5ce9dbce-5d79-434c-9ac3-1cfba9a6e92c",
		"b=AQID", "nsu=urn:test:plant;b=", "ns=1;i=1", "nsu=;", ";", "i=", "g=zz", "nsu=urn:test:plant;g=00000000-0000-0000-0000-00000000000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseNodeID(s, testNamespaces)
		if (id == nil) == (err == nil) {
			t.Fatalf("ParseNodeID(%q) = %v, %v: want exactly one of them", s, id, err)
		}
		if id != nil {
			_ = id.String()
			if _, err := id.Encode(); err != nil {
				t.Fatalf("ParseNodeID(%q) = %v, which does not encode: %v", s, id, err)
			}
		}
	})
}
