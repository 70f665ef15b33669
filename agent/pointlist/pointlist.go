// Package pointlist reads a plant's point list (点表) from CSV into the
// agent's point configuration, and writes point-list templates from a
// browse of an OPC UA server.
//
// A point list is what plants keep in Excel: one row per point, headers in
// Chinese or English (位号/id, 描述/description, 单位/unit, 量程下限/上限,
// 低低报/低报/高报/高高报, 一级/二级报警 for gas detectors, 重大危险源编码/
// 名称/等级, 设备, 节点…). Excel on Chinese Windows saves CSV as GBK, so
// the encoding is detected: UTF-8 (with or without BOM), else GB18030 (a
// superset of GBK).
package pointlist

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// Encoding names the character encoding a list was read in.
type Encoding string

const (
	UTF8    Encoding = "UTF-8"
	GB18030 Encoding = "GB18030"
)

// List is an imported point list.
type List struct {
	Encoding Encoding
	// Points in row order; Sources[i] is the 数据源/source column of
	// Points[i] (empty when the list has no such column).
	Points  []config.Point
	Sources []string
	// HazardSources are the major hazard sources named in the list, in
	// order of first appearance.
	HazardSources []config.HazardSource
	// Warnings are things that did not stop the import, such as columns
	// that were not recognised.
	Warnings []string
}

// CellError names the row (as a spreadsheet numbers it: the header is
// row 1) and column of a problem.
type CellError struct {
	Row    int
	Column string // the header as written in the file; empty for a whole row
	Msg    string
}

func (e *CellError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("row %d: %s", e.Row, e.Msg)
	}
	return fmt.Sprintf("row %d, column %s: %s", e.Row, e.Column, e.Msg)
}

// Decode converts data to UTF-8: a UTF-8 BOM is dropped; text that is not
// valid UTF-8 is decoded as GB18030.
func Decode(data []byte) (string, Encoding, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if utf8.Valid(data) {
		return string(data), UTF8, nil
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
	if err != nil || !utf8.Valid(out) {
		return "", "", errors.New("the file is neither UTF-8 nor GBK/GB18030 text")
	}
	return string(out), GB18030, nil
}

// Parse reads a point list. Every problem is reported (errors.Join of
// *CellError), not just the first.
func Parse(data []byte) (*List, error) {
	text, enc, err := Decode(data)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	records, err := r.ReadAll()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, &CellError{Row: pe.StartLine, Msg: pe.Err.Error()}
		}
		return nil, err
	}
	if len(records) == 0 {
		return nil, &CellError{Row: 1, Msg: "empty file: want a header row (位号, 节点, …)"}
	}
	l := &List{Encoding: enc}
	cols, headers, errs := l.header(records[0])
	if errs != nil {
		return nil, errors.Join(errs...)
	}
	p := &parser{list: l, cols: cols, headers: headers, hazards: map[string]int{}, ids: map[string]int{}}
	for i, rec := range records[1:] {
		p.row(i+2, rec)
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	if len(l.Points) == 0 {
		return nil, &CellError{Row: 2, Msg: "no points below the header"}
	}
	return l, nil
}

// header maps each column of the header row.
func (l *List) header(rec []string) ([]column, []string, []error) {
	cols := make([]column, len(rec))
	var errs []error
	seen := map[column]string{}
	for i, h := range rec {
		name := strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if name == "" {
			continue
		}
		c, ok := byAlias[normalise(name)]
		if !ok {
			l.Warnings = append(l.Warnings, fmt.Sprintf("column %q (%s) not recognised; ignored", name, colLetter(i)))
			continue
		}
		if prev, dup := seen[c]; dup && c != colInfo {
			errs = append(errs, &CellError{Row: 1, Column: name, Msg: fmt.Sprintf("same meaning as column %s", prev)})
			continue
		}
		seen[c] = name
		cols[i] = c
	}
	for _, need := range []column{colID, colNode} {
		if _, ok := seen[need]; !ok {
			errs = append(errs, &CellError{Row: 1, Msg: fmt.Sprintf("missing column %s", heading(need))})
		}
	}
	headers := make([]string, len(rec))
	for i, h := range rec {
		headers[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	return cols, headers, errs
}

// colLetter is a spreadsheet's name for column i (0 → A).
func colLetter(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return "column " + s
}

// ReadAll reads a point list from r.
func ReadAll(r io.Reader) (*List, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}
