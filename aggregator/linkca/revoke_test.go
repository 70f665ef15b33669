package linkca

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A site ID the aggregator would refuse gets no certificate, and none is
// written outside the output directory.
func TestAgentRefusesBadSiteIDs(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	out := filepath.Join(dir, "a", "b", "out")
	if err := Init(ca, "CA"); err != nil {
		t.Fatal(err)
	}
	for _, site := range []string{"../../x", "a/b", "SITE 01", "", ".hidden", "x\x00y", string(make([]byte, 65))} {
		if _, err := IssueAgent(ca, out, site, false); err == nil {
			t.Errorf("site %q got a certificate", site)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "x.key")); err == nil {
		t.Fatal("key written outside the output directory")
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("output directory created for refused sites")
	}
}

// An existing key is replaced only with force, and both serials are
// recorded so that revoking the site catches the old one too.
func TestAgentRenewalAndRevoke(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir, "CA"); err != nil {
		t.Fatal(err)
	}
	first, err := IssueAgent(dir, dir, "SITE01", false)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(dir, "SITE01.key"))
	if _, err := IssueAgent(dir, dir, "SITE01", false); err == nil {
		t.Fatal("existing key replaced without force")
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "SITE01.key")); string(again) != string(key) {
		t.Fatal("refused issue changed the key")
	}
	second, err := IssueAgent(dir, dir, "SITE01", true)
	if err != nil {
		t.Fatal(err)
	}
	if d := second.NotAfter.Sub(second.NotBefore); d > LeafValidity+2*3600e9 {
		t.Fatalf("validity %v", d)
	}
	serials, err := SerialsForSite(dir, "SITE01")
	if err != nil || len(serials) != 2 {
		t.Fatalf("serials %v %v", serials, err)
	}
	list := filepath.Join(dir, Revoked)
	if err := Revoke(list, serials, "lost laptop"); err != nil {
		t.Fatal(err)
	}
	if err := Revoke(list, []string{serials[0]}, "again"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(list)
	got, err := ParseRevoked(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{SerialText(first.SerialNumber), SerialText(second.SerialNumber)} {
		if _, ok := got[c]; !ok {
			t.Fatalf("%s not revoked: %s", c, data)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d entries: %s", len(got), data)
	}
	if _, err := ParseRevoked([]byte("zz-not-hex\n")); err == nil {
		t.Fatal("garbage accepted")
	}
}

// A certificate whose serial cannot be recorded is not written: on disk,
// it would be valid for two years and beyond 'certs revoke --site'.
func TestAgentNotWrittenUnlessRecorded(t *testing.T) {
	ca, out := t.TempDir(), t.TempDir()
	if err := Init(ca, "CA"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(ca, Issued), 0o755); err != nil { // the list cannot be read or replaced
		t.Fatal(err)
	}
	if _, err := IssueAgent(ca, out, "SITE01", false); err == nil || !strings.Contains(err.Error(), "issued list") {
		t.Fatalf("issued with an unwritable issued list: %v", err)
	}
	for _, name := range []string{"SITE01.key", "SITE01.crt"} {
		if _, err := os.Stat(filepath.Join(out, name)); !os.IsNotExist(err) {
			t.Errorf("%s written (%v) for a certificate not recorded", name, err)
		}
	}
}
