package inference

import (
	"context"
	"sort"
	"time"
)

// HistoryRow is what an audit reads of one signal_history row: its bar,
// the sha its meta names (artifact_sha256, or the trainer's
// artifact_content_sha256), and meta.source_run.
type HistoryRow struct {
	Symbol    string
	TS        time.Time
	SHA       string
	SourceRun string
}

// VintageAudit is what a signal's rows already in signal_history are, per
// artifact that wrote them: the rows of each class against that artifact's
// vintage, and which look-ahead bars a point-in-time backfill with the
// signal's current model could repair.
type VintageAudit struct {
	SignalID, SignalName, ModelID, CurrentSHA string
	Interval                                  Interval
	Current                                   *Vintage
	Artifacts                                 []ArtifactAudit // the current one first, then by rows
}

// ArtifactAudit is one artifact's rows.
type ArtifactAudit struct {
	SHA string
	// Vintage is nil when the artifact could not be read (Unreadable says
	// why); its rows then count as unknown.
	Vintage    *Vintage
	Unreadable string
	Rows       int
	ByClass    map[VintageClass]int
	TrainerOOF int // rows the trainer's oof_backfill wrote (honest, kept)
	// Lookahead rows (not the trainer's); Repairable of them sit where the
	// current model is honest or has an OOF value; Unrepairable lists the
	// others' bars as ranges.
	Lookahead, Repairable int
	Unrepairable          []BarRange
}

// BarRange is consecutive bars [From, To) of an interval, N of them.
type BarRange struct {
	TimeRange
	Bars int
}

// AuditVintage audits the signal's signal_history rows. It reads only.
func (s *Service) AuditVintage(ctx context.Context, signalID string) (*VintageAudit, error) {
	sig, model, err := s.store.Resolve(ctx, signalID)
	if err != nil {
		return nil, err
	}
	out := &VintageAudit{SignalID: sig.ID, SignalName: sig.Name, ModelID: model.ID, CurrentSHA: model.ArtifactSHA256, Interval: model.Serving()}
	vintages := map[string]*ArtifactAudit{}
	audit := func(sha string) *ArtifactAudit {
		if a, ok := vintages[sha]; ok {
			return a
		}
		a := &ArtifactAudit{SHA: sha, ByClass: map[VintageClass]int{}}
		vintages[sha] = a
		if !ValidSHA(sha) {
			a.Unreadable = "the rows' meta names no artifact sha"
			return a
		}
		lm, release, err := s.cache.Acquire(ctx, sha)
		if err != nil {
			a.Unreadable = string(ErrorCode(err)) + ": " + SafeMessage(err)
			return a
		}
		defer release()
		windows, _, err := s.store.ModelWindowsBySHA(ctx, sha)
		if err != nil {
			a.Unreadable = string(ErrorCode(err)) + ": " + SafeMessage(err)
			return a
		}
		a.Vintage = lm.Artifact.Vintage.WithRegistry(windows)
		return a
	}
	if model.ArtifactSHA256 != "" {
		out.Current = audit(model.ArtifactSHA256).Vintage
	}
	unrepairable := map[string][]time.Time{}
	err = s.store.SignalHistory(ctx, sig.ID, func(r HistoryRow) {
		a := audit(r.SHA)
		a.Rows++
		if r.SourceRun == "oof_backfill" {
			a.TrainerOOF++
			return
		}
		c := a.Vintage.Class(r.TS)
		a.ByClass[c]++
		if !c.Lookahead() {
			return
		}
		a.Lookahead++
		if _, _, ok := out.Current.OOFAt(r.TS); ok || out.Current.Class(r.TS) == VintageOutOfSample {
			a.Repairable++
		} else {
			unrepairable[r.SHA] = append(unrepairable[r.SHA], r.TS)
		}
	})
	if err != nil {
		return nil, err
	}
	for sha, a := range vintages {
		a.Unrepairable = barRanges(unrepairable[sha], out.Interval.Duration())
		if a.Rows > 0 || sha == model.ArtifactSHA256 {
			out.Artifacts = append(out.Artifacts, *a)
		}
	}
	sort.Slice(out.Artifacts, func(i, j int) bool {
		ai, aj := out.Artifacts[i], out.Artifacts[j]
		if (ai.SHA == out.CurrentSHA) != (aj.SHA == out.CurrentSHA) {
			return ai.SHA == out.CurrentSHA
		}
		return ai.Rows > aj.Rows || (ai.Rows == aj.Rows && ai.SHA < aj.SHA)
	})
	return out, nil
}

// barRanges collapses sorted bars into runs of consecutive grid bars.
func barRanges(bars []time.Time, step time.Duration) []BarRange {
	sort.Slice(bars, func(i, j int) bool { return bars[i].Before(bars[j]) })
	var out []BarRange
	for _, ts := range bars {
		if n := len(out); n > 0 && out[n-1].To.Equal(ts) {
			out[n-1].To, out[n-1].Bars = ts.Add(step), out[n-1].Bars+1
			continue
		}
		out = append(out, BarRange{TimeRange: TimeRange{From: ts, To: ts.Add(step)}, Bars: 1})
	}
	return out
}
