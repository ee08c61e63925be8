package inferencetest

import (
	"testing"
	"time"
)

// CaseVintage is a golden case's vintage as the generator recorded it:
// naive UTC ISO strings, as the trainer writes them.
type CaseVintage struct {
	Rule          string  `json:"rule"`
	Fold          *int    `json:"fold"`
	TrainStart    string  `json:"train_start"`
	TrainEnd      string  `json:"train_end"`
	HonestFrom    string  `json:"honest_from"`
	ValidatedFrom *string `json:"validated_from"`
	ValidatedTo   *string `json:"validated_to"`
	DataEnd       string  `json:"data_end"`
}

// PITBar is one bar of a point-in-time window: its inputs (the model's
// columns, 6-decimal values that survive NUMERIC storage) and the value
// an honest replay writes there — the artifact's OOF prediction before
// honest_from ("oof", with its fold), the saved model's own after ("model").
type PITBar struct {
	TS       time.Time
	Inputs   []float64
	Kind     string
	Fold     int
	Expected []float64
}

type pitBarFile struct {
	TS       string   `json:"ts"`
	Inputs   []string `json:"inputs"`
	Kind     string   `json:"kind"`
	Fold     int      `json:"fold"`
	Expected []string `json:"expected"`
}

// ISO parses one of the generator's naive UTC timestamps.
func ISO(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.ParseInLocation("2006-01-02T15:04:05.999999", s, time.UTC)
	if err != nil {
		t.Fatalf("bad golden timestamp %q: %v", s, err)
	}
	return ts
}

func pitBars(t testing.TB, in []pitBarFile) []PITBar {
	out := make([]PITBar, len(in))
	for i, b := range in {
		out[i] = PITBar{TS: ISO(t, b.TS), Kind: b.Kind, Fold: b.Fold,
			Inputs: bitsMatrix(t, [][]string{b.Inputs})[0], Expected: bitsMatrix(t, [][]string{b.Expected})[0]}
	}
	return out
}
