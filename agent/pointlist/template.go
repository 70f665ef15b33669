package pointlist

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"

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
	used := map[string]int{}
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

// suggestID derives a point ID from the node's identifier (or its browse
// path), made valid and unique.
func suggestID(r TemplateRow, used map[string]int) string {
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
	var b strings.Builder
	for _, c := range base {
		if c <= ' ' || c == 0x7f || c == '/' || c == '\\' || c == '"' || c == '\'' {
			c = '_'
		}
		b.WriteRune(c)
	}
	id := b.String()
	for len(id) > 60 {
		_, size := lastRune(id)
		id = id[:len(id)-size]
	}
	if id == "" {
		id = "P"
	}
	used[id]++
	if n := used[id]; n > 1 {
		id += "_" + strconv.Itoa(n)
	}
	return id
}

func lastRune(s string) (rune, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return rune(s[i]), len(s) - i
		}
	}
	return 0, 1
}
