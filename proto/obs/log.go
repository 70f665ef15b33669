package obs

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// LogConfig is the `log` section of a configuration file.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn or error
	Format string `yaml:"format"` // text or json
}

// DefaultLog returns the log section's defaults.
func DefaultLog() LogConfig { return LogConfig{Level: "info", Format: "text"} }

// Validate names each invalid field, by its key in the file, and its valid
// options. It changes nothing.
func (c LogConfig) Validate() error {
	var errs []error
	if _, err := parseLevel(c.Level); err != nil {
		errs = append(errs, err)
	}
	if c.Format != "text" && c.Format != "json" {
		errs = append(errs, fmt.Errorf("log.format %q: want text or json", c.Format))
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("log.level %q: want debug, info, warn or error", s)
}

// NewLogger returns a logger writing to w as c says. An invalid level logs
// at info; Validate reports it first.
func NewLogger(c LogConfig, w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.Level)
	return newLogger(c, w, level)
}

// NewLevelLogger is NewLogger with the level held in the returned
// LevelVar, so that a reloaded configuration can change it (SetLevel).
func NewLevelLogger(c LogConfig, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	v := new(slog.LevelVar)
	level, _ := parseLevel(c.Level)
	v.Set(level)
	return newLogger(c, w, v), v
}

// SetLevel sets v to c's level.
func (c LogConfig) SetLevel(v *slog.LevelVar) error {
	level, err := parseLevel(c.Level)
	if err != nil {
		return err
	}
	v.Set(level)
	return nil
}

func newLogger(c LogConfig, w io.Writer, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
