package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/artifact"
)

func runPredict(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", "", "artifact directory")
	sha := fs.String("sha", "", "artifact content sha")
	raw := fs.Bool("raw", false, "raw scores instead of transformed predictions")
	if err := fs.Parse(args); err != nil {
		return flagError(err, stdout, "predict", fs)
	}
	if *dir == "" || *sha == "" || fs.NArg() > 0 {
		return usageError{"predict needs --dir and --sha and no other arguments"}
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	return forEachCSVRow(ctx, *dir, *sha, stdin, func(m inference.Model, _ []string, n int, row []float64) error {
		out, err := m.Predict(ctx, row, *raw)
		if err != nil {
			return err
		}
		writePrediction(w, n, out)
		return nil
	})
}

// forEachCSVRow loads artifact sha from dir and calls fn with each CSV row
// of stdin as the model's input vector (inputs names its columns).
func forEachCSVRow(ctx context.Context, dir, sha string, stdin io.Reader,
	fn func(m inference.Model, inputs []string, n int, row []float64) error) error {
	store := &artifact.Store{Dir: dir, Limits: artifact.DefaultPickleLimits}
	art, err := store.Load(ctx, sha)
	if err != nil {
		return err
	}
	m, err := inference.OpenModel(art, loaders)
	if err != nil {
		return err
	}
	defer m.Close()

	r := csv.NewReader(bufio.NewReader(stdin))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("reading the CSV header: %w", err)
	}
	header = slices.Clone(header) // ReuseRecord hands the same slice to the next Read
	cols, err := columnMap(header, art.InputFeatures)
	if err != nil {
		return err
	}
	row := make([]float64, len(art.InputFeatures))
	for n := 0; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("CSV row %d: %w", n, err)
		}
		for j, src := range cols {
			cell := strings.TrimSpace(rec[src])
			if cell == "" {
				row[j] = math.NaN()
				continue
			}
			if row[j], err = strconv.ParseFloat(cell, 64); err != nil {
				return fmt.Errorf("CSV row %d column %q: %q is not a number", n, header[src], cell)
			}
		}
		if err := fn(m, art.InputFeatures, n, row); err != nil {
			return err
		}
	}
}

// columnMap maps each model input to its CSV column; the header must name
// exactly the model's features, in any order.
func columnMap(header, features []string) ([]int, error) {
	at := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if _, dup := at[h]; dup {
			return nil, fmt.Errorf("CSV header names %q twice", h)
		}
		at[h] = i
	}
	var missing, unknown []string
	cols := make([]int, len(features))
	want := map[string]bool{}
	for j, f := range features {
		want[f] = true
		i, ok := at[f]
		if !ok {
			missing = append(missing, f)
		}
		cols[j] = i
	}
	for h := range at {
		if !want[h] {
			unknown = append(unknown, h)
		}
	}
	if len(missing) > 0 || len(unknown) > 0 {
		return nil, fmt.Errorf("CSV header does not match the model's features: missing %v, unknown %v", missing, unknown)
	}
	return cols, nil
}

func writePrediction(w *bufio.Writer, n int, values []float64) {
	fmt.Fprintf(w, `{"row":%d,"values":[`, n)
	for i, v := range values {
		if i > 0 {
			w.WriteByte(',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			w.WriteString("null")
		} else {
			w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	w.WriteString(`],"bits":[`)
	for i, v := range values {
		if i > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, `"%016x"`, math.Float64bits(v))
	}
	w.WriteString("]}\n")
}
