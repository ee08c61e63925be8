package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"

	"github.com/rfkih/blackheart-inference/inference"
)

// explainLine is one CSV row's explanation as explain prints it.
type explainLine struct {
	Row          int          `json:"row"`
	Explanations []explainSet `json:"explanations"`
}

type explainSet struct {
	Member          string           `json:"member,omitempty"`
	Weight          float64          `json:"weight"`
	Class           *int             `json:"class,omitempty"`
	Space           string           `json:"space"`
	Bias            float64          `json:"bias"`
	BiasBits        string           `json:"bias_bits"`
	RawScore        float64          `json:"raw_score"`
	AdditivityError float64          `json:"additivity_error"`
	Contributions   []explainFeature `json:"contributions"`
}

type explainFeature struct {
	Feature      string  `json:"feature"`
	Contribution float64 `json:"contribution"`
	Bits         string  `json:"bits"`
}

func hexBits(v float64) string { return fmt.Sprintf("%016x", math.Float64bits(v)) }

// runExplain prints, for each CSV row, the model's contribution sets (what
// /inference/explain answers, without PostgreSQL): largest contribution
// first, each with its float64 bits for comparison with Python's
// pred_contrib.
func runExplain(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", "", "artifact directory")
	sha := fs.String("sha", "", "artifact content sha")
	if err := fs.Parse(args); err != nil {
		return flagError(err, stdout, "explain", fs)
	}
	if *dir == "" || *sha == "" || fs.NArg() > 0 {
		return usageError{"explain needs --dir and --sha and no other arguments"}
	}
	enc := json.NewEncoder(stdout)
	return forEachCSVRow(ctx, *dir, *sha, stdin, func(m inference.Model, inputs []string, n int, row []float64) error {
		sets, err := inference.Explain(ctx, m, row)
		if err != nil {
			return err
		}
		line := explainLine{Row: n}
		for _, s := range sets[0] {
			e := explainSet{Member: s.Member, Weight: s.Weight, Space: s.Space, Bias: s.Bias, BiasBits: hexBits(s.Bias),
				RawScore: s.Raw, AdditivityError: s.AdditivityError()}
			if s.Class >= 0 {
				c := s.Class
				e.Class = &c
			}
			for _, j := range s.Ranked() {
				e.Contributions = append(e.Contributions, explainFeature{Feature: inputs[j], Contribution: s.Values[j], Bits: hexBits(s.Values[j])})
			}
			line.Explanations = append(line.Explanations, e)
		}
		return enc.Encode(line)
	})
}
