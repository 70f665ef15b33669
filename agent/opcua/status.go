package opcua

import (
	"fmt"
	"strings"

	"github.com/gopcua/opcua/ua"
)

// severity bits of a status code (OPC UA Part 4, 7.39).
const (
	severityMask      = 0xC0000000
	severityUncertain = 0x40000000
	severityBad       = 0x80000000
)

func isBad(s ua.StatusCode) bool { return uint32(s)&severityMask == severityBad }

// StatusText names an OPC UA status code (a sample's quality) the way the
// specification does, e.g. "Good", "BadSensorFailure".
func StatusText(code uint32) string { return statusText(ua.StatusCode(code)) }

// statusText names a status code the way the OPC UA specification does,
// e.g. "Good", "BadNodeIdUnknown" (gopcua spells it "BadNodeIDUnknown"),
// falling back to the severity and the hex code for codes gopcua does not
// know.
func statusText(s ua.StatusCode) string {
	if s == ua.StatusOK {
		return "Good"
	}
	if d, ok := ua.StatusCodes[s&0xFFFF0000]; ok && d.Name != "" {
		name := strings.ReplaceAll(strings.TrimPrefix(d.Name, "Status"), "ID", "Id")
		if s&0xFFFF != 0 {
			return fmt.Sprintf("%s (0x%08X)", name, uint32(s))
		}
		return name
	}
	switch uint32(s) & severityMask {
	case 0:
		return fmt.Sprintf("Good (0x%08X)", uint32(s))
	case severityUncertain:
		return fmt.Sprintf("Uncertain (0x%08X)", uint32(s))
	default:
		return fmt.Sprintf("Bad (0x%08X)", uint32(s))
	}
}
