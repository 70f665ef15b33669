// lifeline-bench runs Lifeline's load runs and writes the results as JSON
// and as the markdown page docs/benchmarks.md. `make bench` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lifeline-telemetry/lifeline/packaging/bench"
	"github.com/lifeline-telemetry/lifeline/proto/atomicfile"
)

func main() {
	var (
		bin      = flag.String("bin", "bin", "directory holding lifeline-aggregator, lifeline-agent and lifeline-plantsim")
		repo     = flag.String("repo", ".", "repository root (for the dashboards' SQL)")
		markdown = flag.String("markdown", "docs/benchmarks.md", "markdown report to write")
		jsonOut  = flag.String("json", "docs/benchmarks.json", "JSON report to write")
		only     = flag.String("only", "", "comma-separated sections to run: ingest, agent, agentlimits, buffer, drain, storage, query, micro, peer, idle (default all but peer and idle)")
		telegraf = flag.String("telegraf", "", "Telegraf binary for the peer section (make bench-peer builds one); with it the default run includes peer")
		short    = flag.Bool("short", false, "short windows: checks the run works, figures are rough")
	)
	flag.Parse()
	if err := run(*bin, *repo, *markdown, *jsonOut, *only, *telegraf, *short); err != nil {
		fmt.Fprintln(os.Stderr, "lifeline-bench:", err)
		os.Exit(1)
	}
}

func run(bin, repo, markdown, jsonOut, only, telegraf string, short bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if telegraf != "" {
		if telegraf, err = filepath.Abs(telegraf); err != nil {
			return err
		}
	}
	opts := bench.Options{BinDir: bin, RepoDir: repo, Telegraf: telegraf, Short: short, Only: map[string]bool{}}
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			opts.Only[s] = true
		}
	}
	start := time.Now()
	opts.Logf = func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%6.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	report, err := bench.Run(ctx, opts)
	if err != nil {
		return err
	}
	if err := writeFile(jsonOut, report.WriteJSON); err != nil {
		return err
	}
	if err := writeFile(markdown, report.WriteMarkdown); err != nil {
		return err
	}
	return report.WriteMarkdown(os.Stdout)
}

// writeFile replaces path crash-safely; an empty path writes nothing.
func writeFile(path string, write func(io.Writer) error) error {
	if path == "" {
		return nil
	}
	return atomicfile.Write(path, 0o644, write)
}
