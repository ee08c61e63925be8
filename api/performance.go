package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/rfkih/blackheart-inference/inference"
)

// performanceParams are the query parameters GET /monitoring/performance accepts.
var performanceParams = map[string]bool{"signal_id": true, "window_days": true}

// performance is GET /monitoring/performance: one signal's realized
// performance against its own labels and its own out-of-fold history.
func (s *Server) performance(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var v validation
	checkParams(&v, q, performanceParams, "/monitoring/performance")
	id := q.Get("signal_id")
	if !q.Has("signal_id") {
		v.add("signal_id", "is required")
	} else if !uuidPattern.MatchString(id) {
		v.add("signal_id", "must be a UUID")
	}
	days := intParam(&v, q, "window_days", inference.DefaultPerformanceDays, inference.MinPerformanceDays, inference.MaxPerformanceDays)
	if err := v.err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RunTimeout)
	defer cancel()
	info(r.Context()).signalID = strings.ToLower(id)
	rep, err := s.svc.SignalPerformance(ctx, inference.PerformanceRequest{SignalID: strings.ToLower(id), WindowDays: days})
	if err != nil {
		return timeoutAware(ctx, err)
	}
	writeJSON(w, http.StatusOK, PerformanceBody(rep))
	return nil
}

type boundsWire struct {
	Lo        float64 `json:"lo"`
	Hi        float64 `json:"hi"`
	Resamples int     `json:"resamples"`
}

type calibrationWire struct {
	Bin      int     `json:"bin"`
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
	Count    int     `json:"count"`
	MeanPred float64 `json:"mean_pred"`
	Actual   float64 `json:"label_rate"`
	Gap      float64 `json:"gap"`
}

type bandWire struct {
	N         int      `json:"n"`
	LabelRate *float64 `json:"label_rate"`
}

type metricsWire struct {
	N           int               `json:"n"`
	Positives   *int              `json:"positives,omitempty"`
	LabelRate   *float64          `json:"label_rate,omitempty"`
	PredMean    *float64          `json:"pred_mean,omitempty"`
	PredStd     *float64          `json:"pred_std,omitempty"`
	AUC         *float64          `json:"auc,omitempty"`
	Brier       *float64          `json:"brier,omitempty"`
	LogLoss     *float64          `json:"log_loss,omitempty"`
	Accuracy    *float64          `json:"accuracy,omitempty"`
	ECE         *float64          `json:"ece,omitempty"`
	MacroAUC    *float64          `json:"macro_auc,omitempty"`
	RMSE        *float64          `json:"rmse,omitempty"`
	MAE         *float64          `json:"mae,omitempty"`
	Pearson     *float64          `json:"pearson,omitempty"`
	Calibration []calibrationWire `json:"calibration,omitempty"`
	GateAbove   bandWire          `json:"gate_above_0_70"`
	GateBelow   bandWire          `json:"gate_below_0_30"`
	Undefined   map[string]string `json:"undefined"`
}

type sideWire struct {
	Source       string      `json:"source"`
	Primary      string      `json:"primary_metric"`
	PrimaryValue *float64    `json:"primary_value"`
	EffectiveN   float64     `json:"effective_n"`
	Interval     *boundsWire `json:"interval"`
	Metrics      metricsWire `json:"metrics"`
}

type performanceWire struct {
	SignalID        string             `json:"signal_id"`
	SignalName      string             `json:"signal_name"`
	ModelID         string             `json:"model_id"`
	ArtifactSHA256  string             `json:"artifact_sha256"`
	Symbol          string             `json:"symbol"`
	Interval        string             `json:"interval"`
	Objective       string             `json:"objective"`
	LabelFeature    string             `json:"label_feature"`
	LabelVersion    int                `json:"label_version"`
	HorizonBars     int                `json:"horizon_bars"`
	WindowDays      int                `json:"window_days"`
	Start           string             `json:"start"`
	End             string             `json:"end"`
	Rows            map[string]int     `json:"rows"`
	Live            sideWire           `json:"live"`
	Reference       sideWire           `json:"reference"`
	LastFoldMetrics map[string]float64 `json:"last_fold_metrics"`
	Verdict         string             `json:"verdict"`
	Reason          string             `json:"reason"`
	ReferenceBand   string             `json:"reference_band"`
	ReferenceLow    *float64           `json:"reference_band_low"`
	ComputedAt      string             `json:"computed_at"`
}

// PerformanceBody is a report as GET /monitoring/performance answers it
// (the performance CLI's --json prints the same).
func PerformanceBody(r *inference.PerformanceReport) any {
	out := performanceWire{SignalID: r.SignalID, SignalName: r.SignalName, ModelID: r.ModelID, ArtifactSHA256: r.ArtifactSHA256,
		Symbol: r.Symbol, Interval: string(r.Interval), Objective: r.Objective, LabelFeature: r.Label.Name, LabelVersion: r.Label.Version,
		HorizonBars: r.HorizonBars, WindowDays: r.WindowDays, Start: formatTS(r.Window.From), End: formatTS(r.Window.To),
		Rows: map[string]int{"total": r.Rows.Total, "other_artifact": r.Rows.OtherArtifact, "not_out_of_sample": r.Rows.NotOutOfSample,
			"no_proba": r.Rows.NoProba, "pending_label": r.Rows.Pending, "scored": r.Rows.Scored},
		Live: toSideWire(r.Live), Reference: toSideWire(r.Reference), LastFoldMetrics: r.LastFoldMetrics,
		Verdict: string(r.Verdict), Reason: r.Reason, ReferenceBand: r.ReferenceBand, ReferenceLow: r.ReferenceBandLow,
		ComputedAt: formatTS(r.ComputedAt)}
	if out.LastFoldMetrics == nil {
		out.LastFoldMetrics = map[string]float64{}
	}
	return out
}

func toSideWire(s inference.PerformanceSide) sideWire {
	m := s.Metrics
	out := sideWire{Source: s.Source, Primary: s.Primary, PrimaryValue: s.PrimaryValue, EffectiveN: s.EffectiveN,
		Metrics: metricsWire{N: m.N, LabelRate: m.LabelRate, PredMean: m.PredMean, PredStd: m.PredStd, AUC: m.AUC, Brier: m.Brier,
			LogLoss: m.LogLoss, Accuracy: m.Accuracy, ECE: m.ECE, MacroAUC: m.MacroAUC, RMSE: m.RMSE, MAE: m.MAE, Pearson: m.Pearson,
			GateAbove: bandWire(m.Above), GateBelow: bandWire(m.Below), Undefined: m.Undefined}}
	if out.Metrics.Undefined == nil {
		out.Metrics.Undefined = map[string]string{}
	}
	if s.Primary == "auc" {
		out.Metrics.Positives = &m.Positives
	}
	for _, b := range m.Calibration {
		out.Metrics.Calibration = append(out.Metrics.Calibration, calibrationWire(b))
	}
	if s.Interval != nil {
		out.Interval = &boundsWire{Lo: s.Interval.Lo, Hi: s.Interval.Hi, Resamples: s.Interval.Resamples}
	}
	return out
}
