package statuspage

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Languages of the page; the first is the default for a browser that
// asks for neither.
var Languages = []string{"zh", "en"}

// Language picks the page's language: ?lang= when it names one, else the
// browser's most preferred of Accept-Language, else Chinese.
func Language(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); known(l) {
		return l
	}
	best, bestQ := Languages[0], -1.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if !known(base) {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q > bestQ {
			best, bestQ = base, q
		}
	}
	return best
}

func known(l string) bool { return slices.Contains(Languages, l) }
