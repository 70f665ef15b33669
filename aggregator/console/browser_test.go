package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lifeline-telemetry/lifeline/proto/browsertest"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

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
	ctx, problems := browsertest.Start(t, "")
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

	other, otherProblems := browsertest.Start(t, "")
	logIn(t, other, f.base, "wang")
	waitFor(t, other, "park B's alarm", rowsText("unacked")+`.includes("P201.PT")`)
	if rows := eval[string](t, other, rowsText("unacked")+" + "+rowsText("acked")); strings.Contains(rows, "T101.LT") || strings.Contains(rows, "SA") {
		t.Fatalf("park A's alarm shown to park B's operator:\n%s", rows)
	}
	if p := append(problems(), otherProblems()...); len(p) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(p, "\n"))
	}
}
