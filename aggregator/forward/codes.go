package forward

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// Code kinds of forward_codes.
const (
	CodeEnterprise = "enterprise" // local id: site id
	CodeHazard     = "hazard"     // local id: site/hazard code
	CodePoint      = "point"      // local id: site/point id
)

// codeBook holds a target's codes by kind and local id.
type codeBook struct {
	codes map[string]map[string]string
	names map[string]map[string]string
}

func newCodeBook(codes []store.ForwardCode) *codeBook {
	b := &codeBook{codes: map[string]map[string]string{}, names: map[string]map[string]string{}}
	for _, c := range codes {
		if b.codes[c.Kind] == nil {
			b.codes[c.Kind], b.names[c.Kind] = map[string]string{}, map[string]string{}
		}
		b.codes[c.Kind][c.LocalID] = c.Code
		b.names[c.Kind][c.LocalID] = c.Name
	}
	return b
}

func (b *codeBook) code(kind, localID string) string {
	if b == nil {
		return ""
	}
	return b.codes[kind][localID]
}

// ParseCodes reads a codes file: CSV with the header
// target,kind,local_id,code[,name], in UTF-8 (a BOM is dropped) or, when
// not valid UTF-8, GBK/GB18030 as spreadsheets in China save it. Every
// problem is reported, each with its line.
func ParseCodes(data []byte) ([]store.ForwardCode, error) {
	text, err := decodeText(data)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("codes file: header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"target", "kind", "local_id", "code"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("codes file: header %q lacks %s (want target,kind,local_id,code[,name])", strings.Join(header, ","), need)
		}
	}
	get := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	var out []store.ForwardCode
	var errs []error
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			errs = append(errs, fmt.Errorf("codes file: %w", err))
			continue
		}
		c := store.ForwardCode{Target: get(rec, "target"), Kind: get(rec, "kind"), LocalID: get(rec, "local_id"),
			Code: get(rec, "code"), Name: get(rec, "name")}
		switch {
		case c.Target == "" && c.Kind == "" && c.LocalID == "":
			continue // blank line
		case !targetName.MatchString(c.Target):
			errs = append(errs, fmt.Errorf("codes file line %d: target %q", line, c.Target))
		case c.Kind != CodeEnterprise && c.Kind != CodeHazard && c.Kind != CodePoint:
			errs = append(errs, fmt.Errorf("codes file line %d: kind %q: want enterprise, hazard or point", line, c.Kind))
		case c.LocalID == "" || (c.Kind != CodeEnterprise && !strings.Contains(c.LocalID, "/")):
			errs = append(errs, fmt.Errorf("codes file line %d: local_id %q: want SITE for enterprise, SITE/CODE or SITE/POINT otherwise", line, c.LocalID))
		default:
			out = append(out, c)
		}
	}
	return out, errors.Join(errs...)
}

func decodeText(data []byte) (string, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if utf8.Valid(data) {
		return string(data), nil
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
	if err != nil || !utf8.Valid(out) {
		return "", errors.New("codes file is neither UTF-8 nor GBK/GB18030 text")
	}
	return string(out), nil
}
