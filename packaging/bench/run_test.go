package bench

import "testing"

// The peer section needs a Telegraf build: it is not in the default run
// unless a binary is given, and -only picks exactly what it names.
func TestOptionsWants(t *testing.T) {
	for _, c := range []struct {
		only     []string
		telegraf string
		id       string
		optIn    bool
		want     bool
	}{
		{nil, "", "agent", false, true},
		{nil, "", "peer", true, false},
		{nil, "/bin/telegraf", "peer", true, true},
		{[]string{"peer"}, "", "peer", true, true},
		{[]string{"peer"}, "", "agent", false, false},
		{[]string{"agent"}, "/bin/telegraf", "peer", true, false},
	} {
		o := Options{Telegraf: c.telegraf, Only: map[string]bool{}}
		for _, s := range c.only {
			o.Only[s] = true
		}
		if got := o.wants(c.id, c.optIn); got != c.want {
			t.Errorf("only %v telegraf %q: wants(%s) = %v, want %v", c.only, c.telegraf, c.id, got, c.want)
		}
	}
}
