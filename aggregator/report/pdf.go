package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// FindChromium returns the path of a Chromium or Chrome on PATH (Debian:
// apt-get install chromium).
func FindChromium() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", errors.New("no chromium on PATH (apt-get install chromium, or set report.chromium)")
}

// PDF prints html as an A4 PDF in a headless Chromium started for the
// purpose and stopped before returning; chromium "" is found on PATH.
// Chinese text needs a CJK font on the machine (Debian: fonts-noto-cjk);
// without one it prints as boxes, and the figures and English stay.
func PDF(ctx context.Context, chromium string, html []byte) ([]byte, error) {
	if chromium == "" {
		var err error
		if chromium, err = FindChromium(); err != nil {
			return nil, err
		}
	}
	profile, err := os.MkdirTemp("", "lifeline-report-chromium-")
	if err != nil {
		return nil, fmt.Errorf("print report: %w", err)
	}
	defer os.RemoveAll(profile)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(profile),
		// The page has no external assets; nothing else should reach out.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	defer cancelAlloc()
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	err = chromedp.Do(tabCtx,
		chromedp.Navigate("about:blank"),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			tree, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{})
			if err != nil {
				return err
			}
			_, err = chromedp.Call(ctx, page.SetDocumentContent, page.SetDocumentContentParams{
				FrameID: tree.FrameTree.Frame.ID, HTML: string(html)})
			return err
		}),
	)
	var pdf []byte
	if err == nil {
		preferCSS := true // the page's @page rule sets A4 and its margins
		pdf, err = chromedp.Run(tabCtx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFPrintBackground(),
			func(p *page.PrintToPDFParams) { p.PreferCSSPageSize = &preferCSS }))
	}
	if err != nil {
		return nil, fmt.Errorf("print report with %s: %w", chromium, err)
	}
	return pdf, nil
}

// Render returns the report as format: "html" or "pdf" (printed with
// chromium, "" finds it on PATH).
func (r *Report) Render(ctx context.Context, format, chromium string) ([]byte, error) {
	html, err := r.HTML()
	if err != nil || format == "html" {
		return html, err
	}
	if format != "pdf" {
		return nil, fmt.Errorf("report format %q: want html or pdf", format)
	}
	return PDF(ctx, chromium, html)
}
