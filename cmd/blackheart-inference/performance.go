package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/rfkih/blackheart-inference/api"
	"github.com/rfkih/blackheart-inference/inference"
)

// runPerformance prints one signal's realized performance (the database
// and artifacts from the INFERENCE_* variables): a table of the metrics
// beside the reference, the gate's bands and the calibration table, or
// the endpoint's JSON with --json.
func runPerformance(ctx context.Context, args []string, environ map[string]string, stdout io.Writer) error {
	fs := flag.NewFlagSet("performance", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	signal := fs.String("signal", "", "signal_id (required)")
	days := fs.Int("window-days", inference.DefaultPerformanceDays, "window, days (7-730)")
	asJSON := fs.Bool("json", false, "print GET /monitoring/performance's JSON")
	if err := fs.Parse(args); err != nil {
		return flagError(err, stdout, "performance", fs)
	}
	switch {
	case fs.NArg() > 0:
		return usageError{"performance takes only flags"}
	case *signal == "":
		return usageError{"performance needs --signal SIGNAL_ID"}
	case *days < inference.MinPerformanceDays || *days > inference.MaxPerformanceDays:
		return usageError{fmt.Sprintf("--window-days must be from %d to %d", inference.MinPerformanceDays, inference.MaxPerformanceDays)}
	}
	a, err := commandApp(ctx, environ)
	if err != nil {
		return err
	}
	defer a.close()
	rep, err := a.service.SignalPerformance(ctx, inference.PerformanceRequest{SignalID: strings.ToLower(*signal), WindowDays: *days})
	if err != nil {
		return fmt.Errorf("%s: %s", inference.ErrorCode(err), inference.SafeMessage(err))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(api.PerformanceBody(rep))
	}
	printPerformance(stdout, rep)
	return nil
}

// printPerformance is the report as tables.
func printPerformance(w io.Writer, r *inference.PerformanceReport) {
	fmt.Fprintf(w, "signal %s (%s)  model %s  %s %s  %s, label %s v%d (%d bars ahead)\n", r.SignalName, r.SignalID, r.ModelID,
		r.Symbol, r.Interval, r.Objective, r.Label.Name, r.Label.Version, r.HorizonBars)
	fmt.Fprintf(w, "verdict %s: %s\n", r.Verdict, r.Reason)
	fmt.Fprintf(w, "window %s → %s: %d rows, %d scored, %d pending label, %d not out of sample, %d of another artifact\n\n",
		r.Window.From.Format("2006-01-02T15:04Z"), r.Window.To.Format("2006-01-02T15:04Z"), r.Rows.Total, r.Rows.Scored,
		r.Rows.Pending, r.Rows.NotOutOfSample, r.Rows.OtherArtifact)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tlive\treference (OOF)\t")
	row := func(name string, live, ref *float64) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", name, cell(live), cell(ref))
	}
	l, f := r.Live.Metrics, r.Reference.Metrics
	nl, nf := float64(l.N), float64(f.N)
	row("n", &nl, &nf)
	row("effective n", &r.Live.EffectiveN, &r.Reference.EffectiveN)
	for _, m := range []struct {
		name     string
		live, rf *float64
	}{{"auc", l.AUC, f.AUC}, {"macro_auc", l.MacroAUC, f.MacroAUC}, {"pearson", l.Pearson, f.Pearson}, {"brier", l.Brier, f.Brier},
		{"log_loss", l.LogLoss, f.LogLoss}, {"accuracy", l.Accuracy, f.Accuracy}, {"ece", l.ECE, f.ECE}, {"rmse", l.RMSE, f.RMSE},
		{"mae", l.MAE, f.MAE}, {"label_rate", l.LabelRate, f.LabelRate}, {"pred_mean", l.PredMean, f.PredMean}} {
		if m.live != nil || m.rf != nil {
			row(m.name, m.live, m.rf)
		}
	}
	fmt.Fprintf(tw, "%s interval\t%s\t%s\t\n", r.Live.Primary, bounds(r.Live.Interval), bounds(r.Reference.Interval))
	for _, b := range []struct {
		name     string
		live, rf inference.Band
	}{{"gate > 0.70", l.Above, f.Above}, {"gate < 0.30", l.Below, f.Below}} {
		fmt.Fprintf(tw, "%s\t%d bars, label rate %s\t%d bars, label rate %s\t\n", b.name, b.live.N, cell(b.live.LabelRate), b.rf.N, cell(b.rf.LabelRate))
	}
	tw.Flush()
	keys := make([]string, 0, len(r.LastFoldMetrics))
	for k := range r.LastFoldMetrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var last []string
	for _, k := range keys {
		last = append(last, fmt.Sprintf("%s %g", k, r.LastFoldMetrics[k]))
	}
	fmt.Fprintf(w, "\nlast_fold_metrics  %s\nreference band     %s\n", strings.Join(last, ", "), r.ReferenceBand)
	if len(l.Calibration) > 0 {
		fmt.Fprintln(w, "\nlive calibration (bin, count, mean prediction, label rate, gap)")
		for _, b := range l.Calibration {
			fmt.Fprintf(w, "  (%.1f, %.1f]  %6d  %.4f  %.4f  %.4f\n", b.Lo, b.Hi, b.Count, b.MeanPred, b.Actual, b.Gap)
		}
	}
}

func cell(x *float64) string {
	if x == nil {
		return "-"
	}
	return fmt.Sprintf("%.6g", *x)
}

func bounds(b *inference.Bounds) string {
	if b == nil {
		return "-"
	}
	return fmt.Sprintf("[%.4f, %.4f]", b.Lo, b.Hi)
}
