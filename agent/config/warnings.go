package config

import (
	"bytes"
	"fmt"
	"os"
	"runtime"

	"gopkg.in/yaml.v3"
)

// passwordsFromEnv fills the passwords of sources that name an
// environment variable (password_env).
func (c *Config) passwordsFromEnv(getenv func(string) string) error {
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.PasswordEnv == "" {
			continue
		}
		v := getenv(s.PasswordEnv)
		if v == "" {
			return fmt.Errorf("sources[%s].password_env: $%s is empty or unset", s.Name, s.PasswordEnv)
		}
		s.Password = v
	}
	return nil
}

// Warnings returns what is allowed but unsafe in the configuration loaded
// from path: a password sent over an OPC UA channel without security, and
// a password inline in a file group or others may read, a status page
// open beyond this machine, and a server-side filter hiding values from
// alarm limits. Both the check
// command and the agent at start report them.
func Warnings(path string, c Config) []string {
	var out []string
	for _, s := range c.Sources {
		if s.Auth == "username" && (s.SecurityPolicy == "None" || s.SecurityMode == "None") {
			out = append(out, fmt.Sprintf("source %s: user %q logs in over security policy %s / mode %s: the password may cross the network "+
				"readable (unless the server encrypts the user token itself); use Basic256Sha256 with SignAndEncrypt",
				s.Name, s.Username, s.SecurityPolicy, s.SecurityMode))
		}
	}
	out = append(out, filterWarnings(c)...)
	if sp := c.StatusPage; sp.Listen != "" && sp.AllowRemote && !loopback(sp.Listen) {
		out = append(out, fmt.Sprintf("status_page.listen %s with allow_remote: anyone who reaches the port sees every point's value "+
			"(the page has no login); keep it on a network you control", sp.Listen))
	}
	// Windows has no mode bits to read (Go reports 0666 for any writable
	// file); there the ACL on %ProgramData%\Lifeline guards the file.
	if path == "" || runtime.GOOS == "windows" {
		return out
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&0o077 == 0 {
		return out
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	var raw struct {
		Sources []struct {
			Name     string `yaml:"name"`
			Password string `yaml:"password"`
		} `yaml:"sources"`
	}
	if yaml.NewDecoder(bytes.NewReader(data)).Decode(&raw) != nil {
		return out
	}
	for _, s := range raw.Sources {
		if s.Password != "" {
			out = append(out, fmt.Sprintf("%s: source %s has its password inline and the file is readable by group or others (mode %s): "+
				"chmod 600 it, or use password_file or password_env", path, s.Name, st.Mode().Perm()))
		}
	}
	return out
}

// filterWarnings names the points whose server-side deadband (subscribe
// mode) hides changes from their alarm limits: a value that crosses a
// limit by less than the filter, or returns by less, never reaches the
// aggregator, so the alarm is raised late or not at all, or clears late.
func filterWarnings(c Config) []string {
	var out []string
	for _, s := range c.Sources {
		if s.ReadMode != "subscribe" {
			continue
		}
		for _, p := range s.Points {
			if p.Deadband == nil || p.Deadband.Value <= 0 || !p.Limits.any() {
				continue
			}
			out = append(out, fmt.Sprintf("source %s point %s: deadband %s %g is a server-side filter: changes smaller than it "+
				"never reach the alarm limits, so an alarm may be raised late or missed and cleared late; "+
				"limits.deadband is the alarm hysteresis, drop the point's deadband unless the server must be spared",
				s.Name, p.ID, p.Deadband.Type, p.Deadband.Value))
		}
	}
	return out
}

// any reports whether l sets a limit.
func (l *Limits) any() bool {
	if l == nil {
		return false
	}
	for _, v := range []*float64{l.LowLow, l.Low, l.High, l.HighHigh, l.Stage1, l.Stage2} {
		if v != nil {
			return true
		}
	}
	return false
}
