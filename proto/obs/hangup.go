package obs

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// OnHangup calls reload on every SIGHUP (how systemctl reload asks a
// service to re-read its configuration) until ctx ends or the returned
// stop is called, which waits for a reload under way. Reloads run one at a
// time; SIGHUPs that arrive meanwhile make one more.
func OnHangup(ctx context.Context, reload func(context.Context)) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload(ctx)
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}
