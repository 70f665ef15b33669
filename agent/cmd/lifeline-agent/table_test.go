package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestDisplayWidth(t *testing.T) {
	for s, want := range map[string]int{"T101": 4, "甲醇储罐": 8, "T101 甲醇储罐": 13, "％LEL": 5, "e\u0301": 1, "": 0} {
		if got := displayWidth(s); got != want {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, want)
		}
	}
}

// columnStarts is the terminal column each cell of a table line starts
// at (cells are separated by two or more spaces).
func columnStarts(line string) []int {
	var starts []int
	for _, m := range regexp.MustCompile(`\S+( \S+)*`).FindAllStringIndex(line, -1) {
		starts = append(starts, displayWidth(line[:m[0]]))
	}
	return starts
}

// assertAligned fails unless every line of a table has its cells start at
// the same terminal columns as its header.
func assertAligned(t *testing.T, lines []string) {
	t.Helper()
	want := columnStarts(lines[0])
	for _, l := range lines[1:] {
		got := columnStarts(l)
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("column %d starts at %d, header at %d:\n%s\n%s", i, got[i], want[i], lines[0], l)
				break
			}
		}
	}
}

func TestTableAlignsChinese(t *testing.T) {
	tb := table{indent: "  "}
	tb.add("POINT", "NAME", "UNIT")
	tb.add("T101.LT", "T101 甲醇储罐液位", "m")
	tb.add("GD-01", "可燃气体检测器", "%LEL")
	tb.add("X", "-", "-")
	var b bytes.Buffer
	if err := tb.write(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "  POINT") || strings.HasSuffix(lines[0], " ") {
		t.Fatalf("table:\n%s", b.String())
	}
	assertAligned(t, lines)
}
