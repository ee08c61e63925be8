package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rfkih/blackheart-inference/api"
	"github.com/rfkih/blackheart-inference/inference"
)

// runDrift prints one signal's drift (the database and artifacts from the
// INFERENCE_* variables): a table, or the endpoint's JSON with --json.
func runDrift(ctx context.Context, args []string, environ map[string]string, stdout io.Writer) error {
	fs := flag.NewFlagSet("drift", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	signal := fs.String("signal", "", "signal_id (required)")
	liveDays := fs.Int("live-days", 7, "live window, days (1-90)")
	asJSON := fs.Bool("json", false, "print GET /monitoring/drift's JSON")
	if err := fs.Parse(args); err != nil {
		return flagError(err, stdout, "drift", fs)
	}
	switch {
	case fs.NArg() > 0:
		return usageError{"drift takes only flags"}
	case *signal == "":
		return usageError{"drift needs --signal SIGNAL_ID"}
	case *liveDays < 1 || *liveDays > 90:
		return usageError{"--live-days must be from 1 to 90"}
	}
	a, err := commandApp(ctx, environ)
	if err != nil {
		return err
	}
	defer a.close()
	rep, err := a.service.SignalDrift(ctx, inference.SignalDriftRequest{SignalID: strings.ToLower(*signal), LiveDays: *liveDays})
	if err != nil {
		return fmt.Errorf("%s: %s", inference.ErrorCode(err), inference.SafeMessage(err))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(api.SignalDriftBody(rep))
	}
	printDrift(stdout, rep)
	return nil
}

// commandApp is the service a one-shot command reads through: the
// INFERENCE_* configuration, no schedule, logs discarded.
func commandApp(ctx context.Context, environ map[string]string) (*app, error) {
	cfg, err := parseConfig(environ)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	cfg.Inference.Drift.Interval = 0 // one computation, no schedule
	return newApp(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), time.Now)
}

// printDrift is the report as a table: the windows, then the prediction and
// every input by PSI.
func printDrift(w io.Writer, r *inference.SignalDriftReport) {
	verdict := string(r.Worst())
	if r.RetrainRecommended {
		verdict += ", retrain recommended"
	}
	fmt.Fprintf(w, "signal %s (%s)  model %s  %s %s  artifact %s…\n", r.SignalName, r.SignalID, r.ModelID, r.Symbol, r.Interval, r.ArtifactSHA256[:12])
	fmt.Fprintf(w, "verdict %s: %s (max psi %.6f)\n\n", verdict, r.Note, r.MaxPSI)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "window\tsource\tfrom\tto\tbars\tvectors")
	for _, win := range []struct {
		name string
		d    inference.DriftWindow
	}{{"live", r.Live}, {"inputs' baseline", r.Baseline}, {"predictions' baseline", r.PredictionBaseline}} {
		from, to := "-", "-"
		if !win.d.From.IsZero() {
			from, to = win.d.From.Format(time.RFC3339), win.d.To.Format(time.RFC3339)
		}
		trunc := ""
		if win.d.Truncated {
			trunc = " (most recent, truncated)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d%s\t%d\n", win.name, win.d.Source, from, to, win.d.Bars, trunc, win.d.Vectors)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nlive predictions in signal_history: %d\n", r.LivePredictions)
	if r.PredictionBaselineInSample {
		fmt.Fprintf(w, "the predictions' baseline is IN SAMPLE for the model (no out-of-fold predictions in the artifact)\n")
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "input\tpsi\tverdict\tbaseline_n\tlive_n")
	for _, f := range append([]inference.FeatureDrift{r.Prediction}, r.Features...) {
		fmt.Fprintf(tw, "%s\t%.6f\t%s\t%d\t%d\n", f.Feature, f.PSI, f.Verdict, f.BaselineN, f.LiveN)
	}
	tw.Flush()
}
