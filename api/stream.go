package api

import (
	"net/http"
	"time"

	"github.com/rfkih/blackheart-inference/inference"
)

// Streamer reports the streaming worker's state.
type Streamer interface {
	Status() inference.StreamStatus
}

// StaticStatus is a Streamer whose status never changes: streaming off,
// reporting the settings it would run with.
type StaticStatus inference.StreamStatus

// Status returns s.
func (s StaticStatus) Status() inference.StreamStatus { return inference.StreamStatus(s) }

type missingWire struct {
	Feature  string  `json:"feature"`
	Version  int     `json:"version"`
	Reason   string  `json:"reason"`
	AgeHours float64 `json:"age_hours,omitempty"`
}

type stalledWire struct {
	TS      string        `json:"ts"`
	Missing []missingWire `json:"missing"`
}

type gapWire struct {
	Start    string          `json:"start"`
	End      string          `json:"end"`
	Bars     int             `json:"bars"`
	Backfill backfillRequest `json:"backfill_request"`
}

type targetWire struct {
	SignalID     string        `json:"signal_id"`
	Name         string        `json:"name"`
	Status       string        `json:"signal_status"`
	Symbol       string        `json:"symbol"`
	IntervalName string        `json:"interval_name"`
	State        string        `json:"state"`
	LastWritten  *string       `json:"last_written_ts"`
	NextExpected string        `json:"next_expected_bar,omitempty"`
	Written      int           `json:"rows_written_last_iteration"`
	Pending      int           `json:"pending_bars"`
	WaitingOn    []missingWire `json:"waiting_on,omitempty"`
	Stalled      []stalledWire `json:"stalled_bars"`
	Gap          *gapWire      `json:"gap,omitempty"`
	LastError    string        `json:"last_error,omitempty"`
	LastErrorAt  *string       `json:"last_error_at,omitempty"`
}

type iterationWire struct {
	StartedAt   string  `json:"started_at"`
	DurationMS  float64 `json:"duration_ms"`
	Targets     int     `json:"targets_total"`
	UpToDate    int     `json:"up_to_date"`
	Written     int     `json:"rows_written"`
	Stalled     int     `json:"stalled"`
	GapTooLarge int     `json:"gap_too_large"`
	Waiting     int     `json:"waiting"`
	Locked      int     `json:"locked_elsewhere"`
	Errors      int     `json:"errors"`
}

type statusWire struct {
	Enabled     bool           `json:"enabled"`
	PollSeconds int            `json:"poll_seconds"`
	MaxGapHours int            `json:"max_gap_hours"`
	StartedAt   *string        `json:"started_at"`
	Iterations  int            `json:"iterations"`
	Last        *iterationWire `json:"last_iteration"`
	Targets     []targetWire   `json:"targets"`
	LastError   string         `json:"last_error,omitempty"`
	LastErrorAt *string        `json:"last_error_at,omitempty"`
}

func tsPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTS(*t)
	return &s
}

func missingToWire(m []inference.MissingFeature) []missingWire {
	out := make([]missingWire, len(m))
	for i, f := range m {
		out[i] = missingWire{f.Feature, f.Version, f.Reason, f.AgeHours}
	}
	return out
}

func toStatusWire(s inference.StreamStatus) statusWire {
	w := statusWire{Enabled: s.Enabled, PollSeconds: s.PollSeconds, MaxGapHours: s.MaxGapHours, StartedAt: tsPtr(s.StartedAt),
		Iterations: s.Iterations, Targets: []targetWire{}, LastError: s.LastError, LastErrorAt: tsPtr(s.LastErrorAt)}
	if l := s.Last; l != nil {
		w.Last = &iterationWire{formatTS(l.StartedAt), float64(l.Duration.Microseconds()) / 1000, l.Targets, l.UpToDate,
			l.Written, l.Stalled, l.GapTooLarge, l.Waiting, l.Locked, l.Errors}
	}
	for _, t := range s.Targets {
		tw := targetWire{SignalID: t.SignalID, Name: t.Name, Status: string(t.Status), Symbol: t.Symbol, IntervalName: string(t.Interval),
			State: string(t.State), LastWritten: tsPtr(t.LastWritten), Written: t.Written, Pending: t.Pending,
			WaitingOn: missingToWire(t.WaitingOn), Stalled: []stalledWire{}, LastError: t.LastError, LastErrorAt: tsPtr(t.LastErrorAt)}
		if !t.NextExpected.IsZero() {
			tw.NextExpected = formatTS(t.NextExpected)
		}
		for _, b := range t.Stalled {
			tw.Stalled = append(tw.Stalled, stalledWire{formatTS(b.TS), missingToWire(b.Missing)})
		}
		if g := t.Gap; g != nil {
			start, end, iv, src := formatTS(g.From), formatTS(g.To), string(g.Backfill.Interval), string(g.Backfill.Source)
			tw.Gap = &gapWire{Start: start, End: end, Bars: g.Bars, Backfill: backfillRequest{
				SignalID: &t.SignalID, Symbol: &t.Symbol, IntervalName: &iv, Start: &start, End: &end, Source: &src}}
		}
		w.Targets = append(w.Targets, tw)
	}
	return w
}

func (s *Server) streamingStatus(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, toStatusWire(s.streamer.Status()))
	return nil
}
