package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/artifact"
)

// runVintage prints a model's timeline (--dir --sha, with --window the
// bars of each class), or audits a signal's rows already in signal_history
// (--signal, the database and artifacts from the INFERENCE_* variables).
// It reads only.
func runVintage(ctx context.Context, args []string, environ map[string]string, stdout io.Writer) error {
	fs := flag.NewFlagSet("vintage", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", "", "artifact directory (with --sha)")
	sha := fs.String("sha", "", "artifact content sha (with --dir)")
	signal := fs.String("signal", "", "signal_id to audit (database from INFERENCE_DB_DSN)")
	window := fs.Bool("window", false, "with --dir/--sha: count the bars of [START, END) per class (two arguments)")
	interval := fs.String("interval", "", "with --window: the bar interval (default: the spec's)")
	if err := fs.Parse(args); err != nil {
		return flagError(err, stdout, "vintage", fs)
	}
	switch {
	case *signal != "" && (*dir != "" || *sha != ""):
		return usageError{"vintage takes --signal, or --dir and --sha"}
	case *signal != "":
		if fs.NArg() > 0 || *window {
			return usageError{"vintage --signal takes no window"}
		}
		return auditSignal(ctx, strings.ToLower(*signal), environ, stdout)
	case *dir == "" || *sha == "":
		return usageError{"vintage needs --dir DIR --sha SHA, or --signal ID"}
	case *window && fs.NArg() != 2, !*window && fs.NArg() != 0:
		return usageError{"vintage --window takes START END (ISO 8601, UTC when naive)"}
	}
	art, err := (&artifact.Store{Dir: *dir, Limits: artifact.DefaultPickleLimits}).Load(ctx, *sha)
	if err != nil {
		return fmt.Errorf("%s: %s", inference.ErrorCode(err), inference.SafeMessage(err))
	}
	printTimeline(stdout, art)
	if !*window {
		return nil
	}
	iv := *interval
	if iv == "" {
		iv = art.Payload.Spec.Interval
	}
	return printWindow(stdout, art.Vintage, iv, fs.Arg(0), fs.Arg(1))
}

// printTimeline is the model's vintage: windows, honest_from, folds, notes.
func printTimeline(w io.Writer, art *inference.Artifact) {
	v, p := art.Vintage, art.Payload
	fmt.Fprintf(w, "artifact %s (%s, %s %s, eval_kind %q)\n", art.SHA, p.Spec.Name, p.Spec.Symbol, p.Spec.Interval, p.EvalKind)
	d := v.Details()
	for _, k := range []string{"rule", "trained_from", "trained_to", "data_end", "honest_from", "validated_from", "validated_to", "fold"} {
		if x, ok := d[k]; ok {
			fmt.Fprintf(w, "  %-15s %v\n", k, x)
		}
	}
	if v != nil && len(v.Folds) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\n  fold\ttrain\ttest\tskipped\toof rows\t")
		for _, f := range v.Folds {
			skipped := f.Skipped
			if skipped == "" {
				skipped = "-"
			}
			fmt.Fprintf(tw, "  %d\t%s → %s\t%s → %s\t%s\t%d\t\n", f.Index, day(f.TrainStart), day(f.TrainEnd), day(f.TestStart), day(f.TestEnd),
				skipped, len(f.OOFTimes))
		}
		tw.Flush()
	}
	notes, _ := d["notes"].([]string)
	for _, n := range notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

func day(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.Format("2006-01-02T15:04")
}

// printWindow counts [start, end)'s bars per class.
func printWindow(w io.Writer, v *inference.Vintage, iv, start, end string) error {
	interval, err := inference.ParseInterval(iv)
	if err != nil {
		return usageError{err.Error()}
	}
	from, err1 := parseCLITime(start)
	to, err2 := parseCLITime(end)
	if err1 != nil || err2 != nil || !to.After(from) {
		return usageError{"--window START END: two ISO 8601 timestamps, END after START"}
	}
	first, n := interval.GridStart(from), interval.BarCount(from, to)
	counts := v.Count(first, interval.Duration(), n)
	withOOF := v.LookaheadWithOOF(first, interval.Duration(), n)
	fmt.Fprintf(w, "\nwindow [%s, %s): %d %s bars\n", from.Format(time.RFC3339), to.Format(time.RFC3339), n, interval)
	for _, c := range inference.VintageClasses {
		if counts[c] > 0 {
			fmt.Fprintf(w, "  %-15s %d\n", c, counts[c])
		}
	}
	fmt.Fprintf(w, "  look-ahead bars with a point-in-time (OOF) value: %d of %d\n", withOOF, counts.Lookahead())
	return nil
}

func parseCLITime(s string) (time.Time, error) {
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a timestamp: %q", s)
}

// auditSignal prints the audit of the signal's rows, and its JSON last.
func auditSignal(ctx context.Context, signalID string, environ map[string]string, stdout io.Writer) error {
	a, err := commandApp(ctx, environ)
	if err != nil {
		return err
	}
	defer a.close()
	rep, err := a.service.AuditVintage(ctx, signalID)
	if err != nil {
		return fmt.Errorf("%s: %s", inference.ErrorCode(err), inference.SafeMessage(err))
	}
	printAudit(stdout, rep)
	return nil
}

// printAudit is the audit as text, then one JSON line for machines.
func printAudit(w io.Writer, rep *inference.VintageAudit) {
	fmt.Fprintf(w, "signal %s (%s), model %s, served by artifact %s\n", rep.SignalName, rep.SignalID, rep.ModelID, rep.CurrentSHA)
	js := map[string]any{"signal_id": rep.SignalID, "current_artifact_sha256": rep.CurrentSHA}
	var arts []map[string]any
	for _, a := range rep.Artifacts {
		cur := ""
		if a.SHA == rep.CurrentSHA {
			cur = " (current)"
		}
		fmt.Fprintf(w, "\nartifact %s%s: %d rows\n", a.SHA, cur, a.Rows)
		if a.Vintage == nil {
			fmt.Fprintf(w, "  unreadable (%s): its rows are counted unknown\n", a.Unreadable)
		} else {
			d := a.Vintage.Details()
			fmt.Fprintf(w, "  rule %v, honest_from %v\n", d["rule"], d["honest_from"])
			for _, n := range a.Vintage.Notes {
				fmt.Fprintf(w, "  note: %s\n", n)
			}
		}
		for _, c := range inference.VintageClasses {
			if a.ByClass[c] > 0 {
				fmt.Fprintf(w, "  %-25s %d\n", c, a.ByClass[c])
			}
		}
		if a.ByClass[inference.VintageOOF] > 0 {
			fmt.Fprintf(w, "  %-25s %d\n", "oof (point-in-time)", a.ByClass[inference.VintageOOF])
		}
		fmt.Fprintf(w, "  %-25s %d (kept, never overwritten)\n", "trainer oof_backfill", a.TrainerOOF)
		fmt.Fprintf(w, "  look-ahead rows %d: a point-in-time backfill repairs %d, cannot repair %d\n",
			a.Lookahead, a.Repairable, a.Lookahead-a.Repairable)
		ranges := make([]map[string]any, 0, len(a.Unrepairable))
		for i, r := range a.Unrepairable {
			if i < 10 {
				fmt.Fprintf(w, "    cannot repair [%s, %s): %d bars\n", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), r.Bars)
			}
			ranges = append(ranges, map[string]any{"start": r.From.Format(time.RFC3339), "end": r.To.Format(time.RFC3339), "bars": r.Bars})
		}
		if len(a.Unrepairable) > 10 {
			fmt.Fprintf(w, "    … %d more ranges (in the JSON below)\n", len(a.Unrepairable)-10)
		}
		arts = append(arts, map[string]any{"artifact_sha256": a.SHA, "rows": a.Rows, "by_vintage": a.ByClass,
			"trainer_oof_backfill": a.TrainerOOF, "lookahead": a.Lookahead, "repairable": a.Repairable,
			"unrepairable": ranges, "vintage": a.Vintage.Details(), "unreadable": a.Unreadable})
	}
	js["artifacts"] = arts
	line, _ := json.Marshal(js)
	fmt.Fprintf(w, "\n%s\n", line)
}
