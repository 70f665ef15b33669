package chtest

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// compressionBlock returns the <compression> element of an XML config with
// its whitespace collapsed.
func compressionBlock(t *testing.T, xml []byte) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<compression>.*</compression>`).Find(xml)
	if m == nil {
		t.Fatalf("no <compression> element in\n%s", xml)
	}
	return strings.Join(strings.Fields(string(m)), " ")
}

// The servers tests, the demo and the benchmarks start must compress as the
// configuration shipped for production ClickHouse servers does.
func TestRecommendedConfigMatchesPackaging(t *testing.T) {
	shipped, err := os.ReadFile(filepath.Join("..", "..", "..", "packaging", "clickhouse", "lifeline.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := configTemplate.Execute(&buf, serverConfig{Dir: t.TempDir(), Compression: Recommended.Compression}); err != nil {
		t.Fatal(err)
	}
	if got, want := compressionBlock(t, buf.Bytes()), compressionBlock(t, shipped); got != want {
		t.Fatalf("test servers compress with\n%s\nbut packaging/clickhouse/lifeline.xml says\n%s", got, want)
	}

	buf.Reset()
	if err := configTemplate.Execute(&buf, serverConfig{Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("<compression>")) {
		t.Fatalf("a server with ClickHouse's default compression has a <compression> element:\n%s", buf.Bytes())
	}
}
