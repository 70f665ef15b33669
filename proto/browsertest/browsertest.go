// Package browsertest runs pages in a headless Chromium for tests (driven
// with chromedp): Debian's chromium, whose absence fails a test under CI.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Chromium finds Debian's chromium. Under CI a missing browser fails the
// test, because CI is where the page must be proven; elsewhere it skips.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found (apt-get install chromium); CI runs this test in a real browser")
	}
	t.Skip("chromium not found (apt-get install chromium)")
	return ""
}

// Start starts a headless Chromium with a profile of its own (no shared
// cookies), asking for pages in acceptLang ("" : the browser's default),
// stopped when the test ends. Its console errors and uncaught exceptions
// are collected in problems.
func Start(t testing.TB, acceptLang string) (ctx context.Context, problems func() []string) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}
	if acceptLang != "" {
		opts = append(opts, chromedp.Flag("accept-lang", acceptLang))
	}
	var mu sync.Mutex
	var seen []string
	listen := func(ev any) {
		if msg := problem(ev); msg != "" {
			mu.Lock()
			seen = append(seen, msg)
			mu.Unlock()
		}
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(listen))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// problem describes ev when it is an error the page ran into, else "".
func problem(ev any) string {
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg := "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
		return msg
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError {
			return fmt.Sprintf("%s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			return "console.error"
		}
	}
	return ""
}
