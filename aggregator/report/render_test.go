package report_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/aggregator/report"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// tool finds a Debian tool the test drives. Under CI a missing one fails
// the test; elsewhere it skips.
func tool(t *testing.T, pkg string, names ...string) string {
	t.Helper()
	for _, name := range names {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found (apt-get install %s)", names[0], pkg)
	}
	t.Skipf("%s not found (apt-get install %s)", names[0], pkg)
	return ""
}

func TestHTMLIsSelfContained(t *testing.T) {
	s := storetest.Open(t)
	seedDay(t, s, false)
	r := build(t, s, "")
	html, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)
	for _, want := range []string{"P1 园区安全监测日报", "Daily report", "<svg", "Top 10 bad actors", "甲化工", "乙化工",
		"@page { size: A4", "T102.LT", "99.5"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`).FindString(page); m != "" {
		t.Errorf("the page loads an external asset: %s", m)
	}
	// The park total row shows the park's alarm count.
	if !strings.Contains(page, "合计 Park total</td><td class=\"n\">"+strconv.Itoa(r.Total.Alarms)+"</td>") {
		t.Errorf("no park total of %d alarms in the summary", r.Total.Alarms)
	}
}

func TestPDF(t *testing.T) {
	chromium := tool(t, "chromium", "chromium", "chromium-browser")
	pdftotext := tool(t, "poppler-utils", "pdftotext")
	pdfinfo := tool(t, "poppler-utils", "pdfinfo")
	s := storetest.Open(t)
	sd := seedDay(t, s, true)
	want := count(sd, "P1")
	r := build(t, s, "")
	html, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	ignore := goleak.IgnoreCurrent()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pdf, err := report.PDF(ctx, chromium, html)
	if err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, ignore)
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", pdf[:min(len(pdf), 16)])
	}
	path := filepath.Join(t.TempDir(), "report.pdf")
	must(t, os.WriteFile(path, pdf, 0o600))
	info, err := exec.Command(pdfinfo, path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo: %v\n%s", err, info)
	}
	pages := regexp.MustCompile(`Pages:\s+(\d+)`).FindSubmatch(info)
	if pages == nil {
		t.Fatalf("pdfinfo gives no page count:\n%s", info)
	}
	if n, _ := strconv.Atoi(string(pages[1])); n < 1 {
		t.Fatalf("%d pages", n)
	}
	if !strings.Contains(string(info), "(A4)") {
		t.Errorf("not A4 (595 x 842 pt):\n%s", info)
	}
	out, err := exec.Command(pdftotext, "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	text := string(out)
	t.Logf("%s pages, %d bytes; text:\n%.600s", pages[1], len(pdf), text)
	for _, w := range []string{"Daily report", "Top 10 bad actors", "Online rate", "T102.LT", "R201.TT",
		"Park total", strconv.Itoa(want.alarms["S1"] + want.alarms["S2"])} {
		if !strings.Contains(text, w) {
			t.Errorf("PDF text lacks %q", w)
		}
	}
	// Chinese extracts only where a CJK font is installed.
	if fonts, _ := exec.Command("fc-list", ":lang=zh").Output(); len(bytes.TrimSpace(fonts)) > 0 {
		if !strings.Contains(text, "日报") {
			t.Error("a CJK font is installed, yet 日报 is not in the PDF text")
		}
	} else {
		t.Log("no CJK font (fonts-noto-cjk): Chinese text not checked")
	}
}
