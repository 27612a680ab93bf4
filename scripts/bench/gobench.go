package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// goBench runs `go test -bench` for one package and returns, per benchmark name (without the
// -N suffix), its metrics by unit (ns/op, B/op, MB/s, cpu-s/GiB ...).
func goBench(ctx context.Context, pkg, pattern, benchtime string) (map[string]map[string]float64, error) {
	out, err := command(ctx, nil, "go", "test", "-run", "^$", "-bench", pattern, "-benchmem", "-benchtime", benchtime, "-count", "1", pkg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, tail(out, 2000))
	}
	res := parseBench(out)
	if len(res) == 0 {
		return nil, fmt.Errorf("go test -bench %s %s: no results: %s", pattern, pkg, tail(out, 2000))
	}
	return res, nil
}

// parseBench reads `go test -bench` output: per benchmark name (without the -GOMAXPROCS suffix),
// its metrics by unit.
func parseBench(out []byte) map[string]map[string]float64 {
	res := map[string]map[string]float64{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				m[f[i+1]] = v
			}
		}
		res[name] = m
	}
	return res
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// goBenchmarks takes the figures the packages' own Go benchmarks measure: the squeue and sacct
// parsers, the image catalog, and log shipping against a plain PutObject.
func (b *bench) goBenchmarks(ctx context.Context) error {
	var errs []string
	if r, err := goBench(ctx, "./slurm/", "^(BenchmarkParseSqueue1000|BenchmarkParseSacct100k|BenchmarkRender)$", "1s"); err != nil {
		errs = append(errs, err.Error())
	} else {
		sq, sa, rd := r["BenchmarkParseSqueue1000"], r["BenchmarkParseSacct100k"], r["BenchmarkRender"]
		b.add(Figure{Group: "poll", Name: "parse squeue, 1,000 jobs", Unit: "ms", Value: sq["ns/op"] / 1e6}.
			check("< 10 ms", sq["ns/op"] > 0 && sq["ns/op"] < 10e6),
			Figure{Group: "usage", Name: "parse sacct, 100,000 lines", Unit: "ms", Value: sa["ns/op"] / 1e6}.
				check("< 200 ms", sa["ns/op"] > 0 && sa["ns/op"] < 200e6),
			Figure{Group: "usage", Name: "parse sacct, 100,000 lines, allocated", Unit: "MB", Value: sa["B/op"] / 1e6}.
				check("< 50 MB", sa["B/op"] > 0 && sa["B/op"] < 50e6),
			Figure{Group: "submit", Name: "render a script", Unit: "µs", Value: rd["ns/op"] / 1e3})
	}
	if r, err := goBench(ctx, "./apptainer/", "^(BenchmarkCatalogListWarm500|BenchmarkCatalogFirstScan500)$", "3x"); err != nil {
		errs = append(errs, err.Error())
	} else {
		w, f := r["BenchmarkCatalogListWarm500"], r["BenchmarkCatalogFirstScan500"]
		b.add(Figure{Group: "images", Name: "catalog of 500 SIFs, warm list", Unit: "ms", Value: w["ns/op"] / 1e6}.
			check("< 20 ms", w["ns/op"] > 0 && w["ns/op"] < 20e6),
			Figure{Group: "images", Name: "catalog of 500 SIFs, first scan", Unit: "ms", Value: f["ns/op"] / 1e6}.
				check("< 2000 ms", f["ns/op"] > 0 && f["ns/op"] < 2e9))
	}
	if r, err := goBench(ctx, "./logship/", "^(BenchmarkShip|BenchmarkPutObjectBaseline)$", "10x"); err != nil {
		errs = append(errs, err.Error())
	} else {
		s, p := r["BenchmarkShip"], r["BenchmarkPutObjectBaseline"]
		f := Figure{Group: "logs", Name: "shipping throughput (64 MiB log)", Unit: "MB/s", Value: s["MB/s"]}.
			withBaseline("minio-go PutObject", p["MB/s"])
		b.add(f.check("≥ 0.8x", f.Ratio != nil && *f.Ratio >= 0.8),
			Figure{Group: "logs", Name: "shipping CPU per GiB", Unit: "cpu-s/GiB", Value: s["cpu-s/GiB"],
				Note: "the bench process only; MinIO's own CPU is not counted"}.withBaseline("minio-go PutObject", p["cpu-s/GiB"]))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
