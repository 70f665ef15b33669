package pointlist

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// TemplateRow is one variable found on a server, to be written as a row of
// a point-list template.
type TemplateRow struct {
	Node        string
	Path        string
	Name        string
	Description string
	DataType    string
	Unit        string
	Range       *config.Range
}

// templateColumns are the template's columns, in order.
var templateColumns = []column{
	colID, colName, colDescription, colUnit, colKind, colNode,
	colRangeLow, colRangeHigh, colLL, colL, colH, colHH, colStage1, colStage2,
	colHazardCode, colHazardName, colHazardLevel, colEquipment,
}

// WriteTemplate writes a point-list template in UTF-8 with a BOM (so that
// Excel shows the Chinese headers): one row per variable with its node,
// name, unit and range filled in and a suggested 位号 derived from the
// node, the alarm and hazard-source columns left for the engineer.
func WriteTemplate(w io.Writer, rows []TemplateRow) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	header := make([]string, 0, len(templateColumns)+2)
	for _, c := range templateColumns {
		header = append(header, heading(c))
	}
	header = append(header, "数据类型(data_type)", "浏览路径(browse_path)")
	if err := cw.Write(header); err != nil {
		return err
	}
	used := map[string]bool{}
	for _, r := range rows {
		rec := make([]string, len(header))
		for i, c := range templateColumns {
			switch c {
			case colID:
				rec[i] = suggestID(r, used)
			case colName:
				rec[i] = r.Name
			case colDescription:
				rec[i] = r.Description
			case colUnit:
				rec[i] = r.Unit
			case colNode:
				rec[i] = r.Node
			case colRangeLow:
				if r.Range != nil {
					rec[i] = strconv.FormatFloat(r.Range.Low, 'g', -1, 64)
				}
			case colRangeHigh:
				if r.Range != nil {
					rec[i] = strconv.FormatFloat(r.Range.High, 'g', -1, 64)
				}
			}
		}
		rec[len(templateColumns)] = r.DataType
		rec[len(templateColumns)+1] = r.Path
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// suggestID derives a readable point ID from the node's identifier (or
// its browse path), valid (config.ValidateID) and unique: Siemens-style
// quoted names lose their quotes ("DB_Tank"."T101"."LT" → DB_Tank.T101.LT),
// slashes become dots, spaces and control characters underscores.
func suggestID(r TemplateRow, used map[string]bool) string {
	base := r.Node
	if i := strings.LastIndex(base, ";"); i >= 0 {
		base = base[i+1:]
	}
	if len(base) > 2 && base[1] == '=' {
		base = base[2:]
	}
	if base == "" || strings.HasPrefix(r.Node, "i=") || strings.Contains(r.Node, ";i=") || strings.Contains(r.Node, ";g=") || strings.Contains(r.Node, ";b=") {
		base = strings.ReplaceAll(r.Path, "/", ".")
	}
	id := readableID(base)
	for len(id) > 56 {
		_, size := lastRune(id)
		id = id[:len(id)-size]
	}
	if id == "" {
		id = "P"
	}
	unique := id
	for n := 2; used[unique]; n++ {
		unique = id + "_" + strconv.Itoa(n)
	}
	used[unique] = true
	return unique
}

// readableID drops quotes, turns path separators into dots and blanks
// into underscores, and trims the separators left doubled or at the ends.
func readableID(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '"' || c == '\'':
			continue
		case c == '/' || c == '\\':
			c = '.'
		case c <= ' ' || c == 0x7f || unicode.IsSpace(c) || unicode.IsControl(c):
			c = '_'
		}
		b.WriteRune(c)
	}
	id := b.String()
	for _, r := range [][2]string{{"..", "."}, {"__", "_"}, {"._", "."}, {"_.", "."}} {
		for strings.Contains(id, r[0]) {
			id = strings.ReplaceAll(id, r[0], r[1])
		}
	}
	return strings.Trim(id, "._")
}

func lastRune(s string) (rune, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return rune(s[i]), len(s) - i
		}
	}
	return 0, 1
}
