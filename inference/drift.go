package inference

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// FeatureDriftRequest is the production sidecar's GET /monitoring/drift:
// feature_values at Symbol and Interval ("" and "" for global features).
type FeatureDriftRequest struct {
	Symbol, Interval string
	Features         []FeatureRef
	LiveDays         int // 1..90
	BaselineDays     int // 7..730
}

// FeatureDrift is one feature's comparison.
type FeatureDrift struct {
	Feature   string // the name alone
	PSI       float64
	Verdict   Verdict
	BaselineN int
	LiveN     int
	// Detail is the unrounded comparison (edges and bin counts).
	Detail PSI
}

// DriftSummary is what every drift report shares.
type DriftSummary struct {
	MaxPSI             float64 // rounded to 6 decimals
	DriftCount         int
	WarnCount          int
	InsufficientCount  int
	RetrainRecommended bool
	Note               string
}

// FeatureDriftReport is the sidecar's response, number for number.
type FeatureDriftReport struct {
	Symbol, Interval   string
	LiveWindowDays     int
	BaselineWindowDays int
	DriftSummary
	Features []FeatureDrift // by PSI, descending; ties keep the request's order
}

// FeatureDrift compares each feature's live window [now − live_days, now)
// with the baseline before it, [live_start − baseline_days, live_start), as
// the production sidecar does: one set-based query for every feature.
func (s *Service) FeatureDrift(ctx context.Context, req FeatureDriftRequest) (*FeatureDriftReport, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	liveStart := now.Add(-time.Duration(req.LiveDays) * 24 * time.Hour)
	baseStart := liveStart.Add(-time.Duration(req.BaselineDays) * 24 * time.Hour)
	base := make([][]float64, len(req.Features))
	live := make([][]float64, len(req.Features))
	err := s.store.WindowValues(ctx, req.Features, req.Symbol, req.Interval, baseStart, now, func(col int, ts time.Time, v float64) {
		if ts.Before(liveStart) {
			base[col] = append(base[col], v)
		} else {
			live[col] = append(live[col], v)
		}
	})
	if err != nil {
		return nil, err
	}
	rep := &FeatureDriftReport{Symbol: req.Symbol, Interval: req.Interval, LiveWindowDays: req.LiveDays, BaselineWindowDays: req.BaselineDays}
	for i, f := range req.Features {
		rep.Features = append(rep.Features, featureDrift(f.Name, base[i], live[i]))
	}
	sortByPSI(rep.Features)
	rep.DriftSummary = summarize(rep.Features)
	if rep.RetrainRecommended {
		s.log.Warn("feature drift: retrain recommended", "symbol", req.Symbol, "interval", req.Interval, "note", rep.Note, "max_psi", rep.MaxPSI)
	}
	return rep, nil
}

func featureDrift(name string, base, live []float64) FeatureDrift {
	d := ComparePSI(base, live)
	return FeatureDrift{Feature: name, PSI: Round6(d.Value), Verdict: d.Verdict, BaselineN: d.BaselineN, LiveN: d.LiveN, Detail: d}
}

// sortByPSI sorts by rounded PSI, descending; stable, so ties keep their
// order (the request's, as the sidecar's sort does).
func sortByPSI(features []FeatureDrift) {
	sort.SliceStable(features, func(i, j int) bool { return features[i].PSI > features[j].PSI })
}

// summarize counts verdicts and the largest PSI as the sidecar does.
func summarize(features []FeatureDrift) DriftSummary {
	var sum DriftSummary
	for _, f := range features {
		switch f.Verdict {
		case VerdictDrift:
			sum.DriftCount++
		case VerdictWarn:
			sum.WarnCount++
		case VerdictInsufficient:
			sum.InsufficientCount++
		}
		if f.Detail.Value > sum.MaxPSI {
			sum.MaxPSI = f.Detail.Value
		}
	}
	sum.MaxPSI = Round6(sum.MaxPSI)
	sum.RetrainRecommended = sum.DriftCount >= 1
	sum.Note = "OK"
	if sum.DriftCount+sum.WarnCount+sum.InsufficientCount > 0 {
		sum.Note = fmt.Sprintf("%d drift, %d warn, %d insufficient-data", sum.DriftCount, sum.WarnCount, sum.InsufficientCount)
	}
	return sum
}
