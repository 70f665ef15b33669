package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

// microPackages hold the testing.B benchmarks of the hot paths.
var microPackages = []string{
	"./agent/batcher", "./agent/buffer", "./agent/uplink", "./aggregator/ingest", "./aggregator/writer", "./aggregator/store", "./aggregator/alarm", "./proto/zstd",
}

// MicroBench is one Go benchmark's result line.
type MicroBench struct {
	Package     string             `json:"package"`
	Name        string             `json:"name"`
	NsPerOp     float64            `json:"ns_per_op"`
	BytesPerOp  float64            `json:"bytes_per_op"`
	AllocsPerOp float64            `json:"allocs_per_op"`
	Metrics     map[string]float64 `json:"metrics,omitempty"`
}

// micro runs the packages' Go benchmarks (with -benchmem) against the
// run's ClickHouse and records every result line.
func (r *Runner) micro(ctx context.Context, sec *Section) error {
	benchtime := "1s"
	if r.opts.Short {
		benchtime = "100ms"
	}
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "1", "-benchtime", benchtime},
		microPackages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = r.opts.RepoDir
	cmd.Env = append(os.Environ(), chtest.AddrEnv+"="+r.ch.addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	sec.Micro = parseBenchmarks(out)
	if err != nil {
		return fmt.Errorf("go %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	sec.note("`go test -run '^$' -bench . -benchmem -benchtime %s` in %s; ClickHouse benchmarks use the run's server.", benchtime, strings.Join(microPackages, ", "))
	return nil
}

// parseBenchmarks reads `go test -bench` output: "pkg:" lines name the
// package of the result lines that follow.
func parseBenchmarks(out []byte) []MicroBench {
	var res []MicroBench
	pkg := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(p, "github.com/lifeline-telemetry/lifeline/")
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // the GOMAXPROCS suffix
		}
		mb := MicroBench{Package: pkg, Name: name, Metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				mb.NsPerOp = v
			case "B/op":
				mb.BytesPerOp = v
			case "allocs/op":
				mb.AllocsPerOp = v
			default:
				mb.Metrics[f[i+1]] = v
			}
		}
		res = append(res, mb)
	}
	return res
}
