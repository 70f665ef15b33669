package main

import (
	"context"
	"log/slog"
	"reflect"
	"strings"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
)

// reloader is what SIGHUP does to a running aggregator: it re-reads and
// validates the file, applies log.level at once, and names every other
// section that changed as taking effect only after a restart. The
// revocation list (server.tls.revoked_file) needs no SIGHUP: ingest
// re-reads it whenever it changes.
type reloader struct {
	path    string
	current config.Config
	level   *slog.LevelVar
	logger  *slog.Logger
}

func (r *reloader) reload(context.Context) {
	cfg, err := config.Load(r.path)
	if err != nil {
		r.logger.Error("configuration NOT reloaded; the aggregator runs on with its previous configuration", "file", r.path, "err", err)
		return
	}
	if cfg.Log.Level != r.current.Log.Level {
		_ = cfg.Log.SetLevel(r.level) // validated by Load
		r.current.Log.Level = cfg.Log.Level
	}
	if changed := restartSections(r.current, cfg); len(changed) > 0 {
		r.logger.Warn("configuration reloaded in part: these changed and take effect only when the aggregator restarts",
			"file", r.path, "sections", strings.Join(changed, ", "), "log_level", r.current.Log.Level)
		return
	}
	r.logger.Info("configuration reloaded", "file", r.path, "log_level", r.current.Log.Level)
}

// restartSections names, by their keys in the file, the sections that
// differ between old and new, log.level aside.
func restartSections(old, new config.Config) []string {
	old.Log.Level = new.Log.Level
	ov, nv := reflect.ValueOf(old), reflect.ValueOf(new)
	var out []string
	for i := range ov.NumField() {
		if !reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			name, _, _ := strings.Cut(ov.Type().Field(i).Tag.Get("yaml"), ",")
			out = append(out, name)
		}
	}
	return out
}
