package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// chromium finds Debian's chromium. Under CI a missing browser fails the
// test; elsewhere it skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found (apt-get install chromium); CI runs the console test in a real browser")
	}
	t.Skip("chromium not found (apt-get install chromium)")
	return ""
}

// browser starts a headless Chromium with a profile of its own (no shared
// cookies). Its console errors and uncaught exceptions go to problems.
func browser(t *testing.T) (ctx context.Context, problems func() []string) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}
	var mu sync.Mutex
	var seen []string
	listen := func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				msg = fmt.Sprintf("%s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if msg != "" {
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

// eval runs js in the page and fails the test on error.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// waitFor polls js until it is true.
func waitFor(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !eval[bool](t, ctx, js) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (%s); page: %s", what, js,
				eval[string](t, ctx, `document.querySelector("main").innerText`))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rowsText is the text of a table's rows, one line per row.
func rowsText(table string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("#%s tbody tr")].map(r => r.innerText.replace(/\s+/g, " ")).join("\n")`, table)
}

func logIn(t *testing.T, ctx context.Context, base, user string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SendKeys(chromedp.CSS("#user"), user), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#console"))); err != nil {
		t.Fatalf("log in as %s: %v", user, err)
	}
}

// An operator of park A logs in, sees the park's alarm, acknowledges it
// with cause and measures in the page, and it leaves the unacknowledged
// list; an operator of park B does not see it at all.
func TestConsoleInChromium(t *testing.T) {
	f := newFixture(t, nil)
	ctx, problems := browser(t)
	logIn(t, ctx, f.base, "zhang")
	if h := eval[string](t, ctx, `document.querySelector("[data-t=unacked]").textContent`); h != "未确认报警" {
		t.Fatalf("heading %q: the page is not in Chinese by default", h)
	}
	waitFor(t, ctx, "park A's alarm unacknowledged", rowsText("unacked")+`.includes("T101.LT")`)
	if rows := eval[string](t, ctx, rowsText("unacked")+" + "+rowsText("acked")); strings.Contains(rows, "P201.PT") {
		t.Fatalf("park B's alarm shown to park A's operator:\n%s", rows)
	}

	clickAck := `(() => {
		const row = [...document.querySelectorAll("#unacked tbody tr")].find(r => r.innerText.includes("T101.LT"));
		row.querySelector("button.ack").click();
		return true;
	})()`
	eval[bool](t, ctx, clickAck)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#cause")),
		chromedp.SendKeys(chromedp.CSS("#cause"), "液位计漂移"), chromedp.SendKeys(chromedp.CSS("#measures"), "现场校准，复核联锁"),
		chromedp.Click(chromedp.CSS("#action-submit"))); err != nil {
		t.Fatalf("acknowledge in the page: %v", err)
	}
	waitFor(t, ctx, "the alarm to leave the unacknowledged list", `!(`+rowsText("unacked")+`.includes("T101.LT"))`)
	waitFor(t, ctx, "the alarm acknowledged by zhang with cause and measures",
		`(() => { const s = `+rowsText("acked")+`; return s.includes("T101.LT") && s.includes("zhang") && s.includes("液位计漂移") && s.includes("现场校准，复核联锁"); })()`)
	acked, err := f.st.Acknowledged(context.Background(), []store.AlarmKey{f.alarmA})
	if err != nil || !acked[f.alarmA] {
		t.Fatalf("store: alarm A acknowledged %v, %v", acked, err)
	}

	// English on request, kept by the page.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#lang"), "en")); err != nil {
		t.Fatal(err)
	}
	eval[bool](t, ctx, `document.querySelector("#lang").dispatchEvent(new Event("change")), true`)
	waitFor(t, ctx, "English headings", `document.querySelector("[data-t=unacked]").textContent === "Unacknowledged alarms"`)

	other, otherProblems := browser(t)
	logIn(t, other, f.base, "wang")
	waitFor(t, other, "park B's alarm", rowsText("unacked")+`.includes("P201.PT")`)
	if rows := eval[string](t, other, rowsText("unacked")+" + "+rowsText("acked")); strings.Contains(rows, "T101.LT") || strings.Contains(rows, "SA") {
		t.Fatalf("park A's alarm shown to park B's operator:\n%s", rows)
	}
	if p := append(problems(), otherProblems()...); len(p) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(p, "\n"))
	}
}
