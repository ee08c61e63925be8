package api

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/rfkih/blackheart-inference/inference"
)

// featureRefPattern is one entry of ?features=: name, or name:version;
// featuresPattern is the whole list, as api/openapi.yaml states it (a test
// holds the two equal). Spaces around entries are allowed, as the sidecar
// strips them.
var (
	featureRefPattern = regexp.MustCompile(`^ *([A-Za-z0-9_.-]{1,120})(?::([1-9][0-9]{0,8}))? *$`)
	featuresPattern   = regexp.MustCompile(`^ *[A-Za-z0-9_.-]{1,120}(?::[1-9][0-9]{0,8})? *(?:, *[A-Za-z0-9_.-]{1,120}(?::[1-9][0-9]{0,8})? *)*$`)
)

// maxFeaturesParam bounds ?features= (about 60 long names).
const maxFeaturesParam = 8192

// driftParams are the query parameters GET /monitoring/drift accepts.
var driftParams = map[string]bool{"signal_id": true, "symbol": true, "interval": true, "features": true,
	"live_days": true, "baseline_days": true}

// drift is GET /monitoring/drift: the production sidecar's feature drift
// (features=…), or one signal's drift as its model sees it (signal_id=…).
func (s *Server) drift(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var v validation
	checkParams(&v, q, driftParams, "/monitoring/drift")
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RunTimeout)
	defer cancel()
	liveDays := intParam(&v, q, "live_days", 7, 1, 90)
	if q.Has("signal_id") {
		for _, k := range []string{"features", "symbol", "interval", "baseline_days"} {
			if q.Has(k) {
				v.add(k, "does not go with signal_id: a signal's baseline is its model's training window")
			}
		}
		id := q.Get("signal_id")
		if !uuidPattern.MatchString(id) {
			v.add("signal_id", "must be a UUID")
		}
		if err := v.err(); err != nil {
			return err
		}
		info(r.Context()).signalID = strings.ToLower(id)
		rep, err := s.svc.SignalDrift(ctx, inference.SignalDriftRequest{SignalID: strings.ToLower(id), LiveDays: liveDays})
		if err != nil {
			return timeoutAware(ctx, err)
		}
		writeJSON(w, http.StatusOK, toSignalDriftWire(rep))
		return nil
	}
	req := inference.FeatureDriftRequest{Symbol: q.Get("symbol"), Interval: q.Get("interval"), LiveDays: liveDays,
		BaselineDays: intParam(&v, q, "baseline_days", 90, 7, 730)}
	if req.Symbol != "" && !symbolPattern.MatchString(req.Symbol) {
		v.add("symbol", "must be empty (global features) or 1-20 letters, digits, '.', '_' or '-'")
	}
	if req.Interval != "" && !inference.Interval(req.Interval).Valid() {
		v.add("interval", "must be empty (global features) or one of 5m, 15m, 1h, 4h")
	}
	req.Features = featureRefs(&v, q)
	if err := v.err(); err != nil {
		return err
	}
	rep, err := s.svc.FeatureDrift(ctx, req)
	if err != nil {
		return timeoutAware(ctx, err)
	}
	writeJSON(w, http.StatusOK, toFeatureDriftWire(rep))
	return nil
}

// checkParams refuses a query parameter the route does not take, or one
// given twice.
func checkParams(v *validation, q url.Values, allowed map[string]bool, route string) {
	for k := range q {
		if !allowed[k] {
			v.add(bounded(k), "is not a parameter of "+route)
		} else if len(q[k]) > 1 {
			v.add(k, "is given more than once")
		}
	}
}

// featureRefs reads ?features=name[:version],… (version 1 when omitted).
func featureRefs(v *validation, q url.Values) []inference.FeatureRef {
	raw := q.Get("features")
	switch {
	case !q.Has("features") || raw == "":
		v.add("features", "is required: comma-separated name:version (version defaults to 1), or give signal_id")
		return nil
	case len(raw) > maxFeaturesParam:
		v.add("features", "is longer than "+strconv.Itoa(maxFeaturesParam)+" characters")
		return nil
	case !featuresPattern.MatchString(raw):
		v.add("features", "each entry must be name or name:version (letters, digits, '_', '.', '-'; version a positive integer)")
		return nil
	}
	var refs []inference.FeatureRef
	for _, p := range strings.Split(raw, ",") {
		m := featureRefPattern.FindStringSubmatch(p)
		ver := 1
		if m[2] != "" {
			ver, _ = strconv.Atoi(m[2])
		}
		refs = append(refs, inference.FeatureRef{Name: m[1], Version: ver})
	}
	return refs
}

// intParam reads an integer parameter in [lo, hi], def when absent.
func intParam(v *validation, q url.Values, key string, def, lo, hi int) int {
	if !q.Has(key) {
		return def
	}
	n, err := strconv.Atoi(q.Get(key))
	if err != nil || n < lo || n > hi {
		v.add(key, "must be a whole number from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
		return def
	}
	return n
}

// featureDriftWire is one feature's entry, as the sidecar answers it.
type featureDriftWire struct {
	Feature   string  `json:"feature"`
	PSI       float64 `json:"psi"`
	Verdict   string  `json:"verdict"`
	BaselineN int     `json:"baseline_n"`
	LiveN     int     `json:"live_n"`
}

type driftSummaryWire struct {
	MaxPSI             float64 `json:"max_psi"`
	DriftCount         int     `json:"drift_count"`
	WarnCount          int     `json:"warn_count"`
	RetrainRecommended bool    `json:"retrain_recommended"`
	Note               string  `json:"note"`
}

type featureDriftReportWire struct {
	Symbol             string `json:"symbol"`
	Interval           string `json:"interval"`
	LiveWindowDays     int    `json:"live_window_days"`
	BaselineWindowDays int    `json:"baseline_window_days"`
	driftSummaryWire
	Features []featureDriftWire `json:"features"`
}

func toSummaryWire(s inference.DriftSummary) driftSummaryWire {
	return driftSummaryWire{MaxPSI: s.MaxPSI, DriftCount: s.DriftCount, WarnCount: s.WarnCount,
		RetrainRecommended: s.RetrainRecommended, Note: s.Note}
}

func toFeatureWire(f inference.FeatureDrift) featureDriftWire {
	return featureDriftWire{Feature: f.Feature, PSI: f.PSI, Verdict: string(f.Verdict), BaselineN: f.BaselineN, LiveN: f.LiveN}
}

func toFeatureDriftWire(r *inference.FeatureDriftReport) featureDriftReportWire {
	out := featureDriftReportWire{Symbol: r.Symbol, Interval: r.Interval, LiveWindowDays: r.LiveWindowDays,
		BaselineWindowDays: r.BaselineWindowDays, driftSummaryWire: toSummaryWire(r.DriftSummary),
		Features: make([]featureDriftWire, len(r.Features))}
	for i, f := range r.Features {
		out.Features[i] = toFeatureWire(f)
	}
	return out
}

type driftWindowWire struct {
	Source    string  `json:"source"`
	Start     *string `json:"start"`
	End       *string `json:"end"`
	Bars      int     `json:"bars"`
	Vectors   int     `json:"vectors"`
	Truncated bool    `json:"truncated"`
}

type signalDriftReportWire struct {
	SignalID           string          `json:"signal_id"`
	SignalName         string          `json:"signal_name"`
	ModelID            string          `json:"model_id"`
	ArtifactSHA256     string          `json:"artifact_sha256"`
	Symbol             string          `json:"symbol"`
	Interval           string          `json:"interval"`
	LiveWindowDays     int             `json:"live_window_days"`
	Live               driftWindowWire `json:"live_window"`
	Baseline           driftWindowWire `json:"baseline_window"`
	PredictionBaseline driftWindowWire `json:"prediction_baseline_window"`
	// PredictionBaselineInSample says the predictions' baseline is in sample.
	PredictionBaselineInSample bool `json:"prediction_baseline_in_sample"`
	LivePredictions            int  `json:"live_predictions"`
	driftSummaryWire
	Verdict    string             `json:"verdict"`
	Features   []featureDriftWire `json:"features"`
	Prediction featureDriftWire   `json:"prediction"`
	ComputedAt string             `json:"computed_at"`
}

func toWindowWire(w inference.DriftWindow) driftWindowWire {
	out := driftWindowWire{Source: w.Source, Bars: w.Bars, Vectors: w.Vectors, Truncated: w.Truncated}
	if !w.From.IsZero() || !w.To.IsZero() {
		start, end := formatTS(w.From), formatTS(w.To)
		out.Start, out.End = &start, &end
	}
	return out
}

func toSignalDriftWire(r *inference.SignalDriftReport) signalDriftReportWire {
	out := signalDriftReportWire{SignalID: r.SignalID, SignalName: r.SignalName, ModelID: r.ModelID, ArtifactSHA256: r.ArtifactSHA256,
		Symbol: r.Symbol, Interval: string(r.Interval), LiveWindowDays: r.LiveDays, Live: toWindowWire(r.Live),
		Baseline: toWindowWire(r.Baseline), PredictionBaseline: toWindowWire(r.PredictionBaseline), LivePredictions: r.LivePredictions,
		PredictionBaselineInSample: r.PredictionBaselineInSample,
		driftSummaryWire:           toSummaryWire(r.DriftSummary), Verdict: string(r.Worst()), Prediction: toFeatureWire(r.Prediction),
		Features: make([]featureDriftWire, len(r.Features)), ComputedAt: formatTS(r.ComputedAt)}
	for i, f := range r.Features {
		out.Features[i] = toFeatureWire(f)
	}
	return out
}

// SignalDriftBody is a signal's drift report as GET /monitoring/drift
// answers it (for the CLI's --json).
func SignalDriftBody(r *inference.SignalDriftReport) any { return toSignalDriftWire(r) }
