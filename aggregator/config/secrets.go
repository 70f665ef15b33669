package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Environment variables that hold secrets, so that none has to sit in the
// file or on a command line (where ps shows it). Each beats its *_file,
// which beats the inline value.
const (
	EnvClickHousePassword        = "LIFELINE_CLICKHOUSE_PASSWORD"
	EnvGrafanaToken              = "LIFELINE_GRAFANA_TOKEN"
	EnvGrafanaPassword           = "LIFELINE_GRAFANA_PASSWORD"
	EnvGrafanaDatasourcePassword = "LIFELINE_GRAFANA_DATASOURCE_PASSWORD"
	EnvNotifySMTPPassword        = "LIFELINE_NOTIFY_SMTP_PASSWORD"
)

// secret is one secret setting: its inline value, the file that may hold
// it instead, and the environment variable that overrides both.
type secret struct {
	in    Sections // the section the secret belongs to
	key   string   // the inline key, for messages
	value *string
	file  string
	env   string
}

func (c *Config) secrets() []secret {
	return []secret{
		{ClickHouseSection, "clickhouse.password", &c.ClickHouse.Password, c.ClickHouse.PasswordFile, EnvClickHousePassword},
		{GrafanaSection, "grafana.token", &c.Grafana.Token, c.Grafana.TokenFile, EnvGrafanaToken},
		{GrafanaSection, "grafana.password", &c.Grafana.Password, c.Grafana.PasswordFile, EnvGrafanaPassword},
		{GrafanaSection, "grafana.datasource.password", &c.Grafana.Datasource.Password, c.Grafana.Datasource.PasswordFile, EnvGrafanaDatasourcePassword},
		{NotifySection, "notify.smtp.password", &c.Notify.SMTP.Password, c.Notify.SMTP.PasswordFile, EnvNotifySMTPPassword},
	}
}

// validateSecrets refuses a secret of the sections used given both inline
// and as a file: which one wins would be a guess.
func (c Config) validateSecrets(uses Sections) error {
	var errs []error
	for _, s := range c.secrets() {
		if uses&s.in != 0 && s.file != "" && *s.value != "" {
			errs = append(errs, fmt.Errorf("%s and %s_file: set one, not both", s.key, s.key))
		}
	}
	return errors.Join(errs...)
}

// resolveSecrets fills each secret of the sections used from its
// environment variable or file; a command that does not use a section
// does not fail on its missing file.
func (c *Config) resolveSecrets(getenv func(string) string, uses Sections) error {
	var errs []error
	for _, s := range c.secrets() {
		if uses&s.in == 0 {
			continue
		}
		if v := getenv(s.env); v != "" {
			*s.value = v
			continue
		}
		if s.file == "" {
			continue
		}
		data, err := os.ReadFile(s.file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s_file: %w", s.key, err))
			continue
		}
		*s.value = strings.TrimRight(string(data), "\r\n")
	}
	return errors.Join(errs...)
}

// SecretWarnings returns a warning for each secret the file at path holds
// inline while group or others may read it. It reads the file again, so
// that a value from the environment or a *_file is not mistaken for one.
func SecretWarnings(path string) []string {
	if path == "" {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&0o077 == 0 {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var raw Config
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil
	}
	var out []string
	for _, s := range raw.secrets() {
		if *s.value != "" {
			out = append(out, fmt.Sprintf("%s: %s is inline and the file is readable by group or others (mode %s): "+
				"chmod 600 it, or use %s_file or $%s", path, s.key, st.Mode().Perm(), s.key, s.env))
		}
	}
	return out
}
