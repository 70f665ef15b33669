package service

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lifeline-telemetry/lifeline/proto/browsertest"

	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
)

// text returns the text of the first element matching sel, "" if none.
func text(ctx context.Context, sel string) (string, error) {
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.textContent : ""; })()`, sel)
	return chromedp.Run(ctx, chromedp.Evaluate[string](js))
}

// waitText polls the page until the text of sel satisfies ok.
func waitText(t *testing.T, ctx context.Context, what, sel string, limit time.Duration, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last string
	for {
		s, err := text(ctx, sel)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok(s) {
			return s
		}
		last = s
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (%s shows %q)", limit, what, sel, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func leadingNumber(s string) (float64, bool) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return v, err == nil
}

// The technician's view in a real browser: the page loads in the
// browser's language, shows the live points with their Chinese text,
// follows the simulator as a gas reading rises and a sensor fails, and
// switches to English.
func TestStatusPageInChromium(t *testing.T) {
	start := time.Now()
	// A model step of 500 ms keeps a gas excursion above 10 %LEL for
	// several seconds, longer than the page's 2 s poll.
	sim := startSim(t, plantsim.Options{Addr: "127.0.0.1:0", Tick: 500 * time.Millisecond})
	agg := newAggregator(t)
	agg.start(t)
	a, _ := runAgent(t, agentConfig(sim, agg.addr, t.TempDir()), nil)
	waitFor(t, "the status page", 10*time.Second, func() bool { return a.StatusPageAddr() != "" })
	ctx, problems := browsertest.Start(t, "zh-CN,zh")

	url := "http://" + a.StatusPageAddr() + "/"
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS(`body[data-loaded="true"]`))); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
	if lang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`)); err != nil || lang != "zh" {
		t.Fatalf("page language %q (%v), want zh from Accept-Language", lang, err)
	}
	waitText(t, ctx, "the points heading in Chinese", "#points h2", 5*time.Second, func(s string) bool { return s == "点位" })
	waitText(t, ctx, "the site's Chinese name", "#site", 5*time.Second, func(s string) bool { return strings.Contains(s, plantsim.SiteName) })
	waitText(t, ctx, "the source connected", `tr[data-source="plantsim"] td[data-state]`, 15*time.Second, func(s string) bool { return s == "已连接" })

	for _, spec := range sim.Catalog() {
		row := fmt.Sprintf(`tr[data-point=%q]`, spec.ID)
		waitText(t, ctx, spec.ID+"'s name", row+" td.name", 10*time.Second, func(s string) bool { return s == spec.Name })
		waitText(t, ctx, spec.ID+"'s description", row+" td.description", time.Second, func(s string) bool { return s == spec.Description })
		waitText(t, ctx, spec.ID+"'s value", row+" td.value", 10*time.Second, func(s string) bool { return s != "" && s != "-" })
	}

	// A gas detector's reading rises on the simulator: the page follows.
	const gas = "GT102"
	before := waitText(t, ctx, gas+"'s value", `tr[data-point="`+gas+`"] td.value`, 5*time.Second, func(s string) bool { _, ok := leadingNumber(s); return ok })
	v0, _ := leadingNumber(before)
	if v0 >= 5 {
		t.Fatalf("%s reads %s before the excursion", gas, before)
	}
	if err := sim.ForceExcursion(gas); err != nil {
		t.Fatal(err)
	}
	after := waitText(t, ctx, gas+" rising", `tr[data-point="`+gas+`"] td.value`, 20*time.Second, func(s string) bool {
		v, ok := leadingNumber(s)
		return ok && v > 10 && strings.HasSuffix(s, "%LEL")
	})
	t.Logf("%s on the page: %q -> %q", gas, before, after)

	// A sensor fails: its quality turns bad.
	waitText(t, ctx, "GT101 good", `tr[data-point="GT101"] td.quality`, 5*time.Second, func(s string) bool { return s == "Good" })
	if err := sim.SetBad("GT101", true); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "GT101 bad", `tr[data-point="GT101"] td.quality`, 10*time.Second, func(s string) bool { return s == "BadSensorFailure" })

	// English, by the page's own link; point text stays as written.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#lang-en`)), chromedp.WaitReady(chromedp.CSS(`body[data-loaded="true"]`))); err != nil {
		t.Fatalf("switch to English: %v", err)
	}
	waitText(t, ctx, "the points heading in English", "#points h2", 5*time.Second, func(s string) bool { return s == "Points" })
	waitText(t, ctx, "the source connected, in English", `tr[data-source="plantsim"] td[data-state]`, 5*time.Second, func(s string) bool { return s == "connected" })
	waitText(t, ctx, "T101.LT's Chinese name after the switch", `tr[data-point="T101.LT"] td.name`, 5*time.Second, func(s string) bool {
		return strings.Contains(s, "甲醇储罐液位")
	})
	if p := problems(); len(p) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(p, "\n"))
	}
	t.Logf("status page test in Chromium took %v", time.Since(start).Round(10*time.Millisecond))
}
