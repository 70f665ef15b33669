package plantsim

import (
	"context"
	"fmt"
	"log/slog"
)

// serverLogger adapts slog to gopcua's server.Logger, whose messages are
// printf formats (a *slog.Logger satisfies the interface but would print
// the format verbs and the arguments as !BADKEY attributes). Everything
// the server says goes to debug level: it reports routine events, such as
// a client hanging up or its own listener closing, as warnings and errors.
type serverLogger struct{ l *slog.Logger }

func (s serverLogger) log(level slog.Level, msg string, args []any) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	s.l.Log(ctx, level, fmt.Sprintf(msg, args...), "component", "opcua-server")
}

func (s serverLogger) Debug(msg string, args ...any) { s.log(slog.LevelDebug-4, msg, args) }
func (s serverLogger) Info(msg string, args ...any)  { s.log(slog.LevelDebug, msg, args) }
func (s serverLogger) Warn(msg string, args ...any)  { s.log(slog.LevelDebug, msg, args) }
func (s serverLogger) Error(msg string, args ...any) { s.log(slog.LevelDebug, msg, args) }
