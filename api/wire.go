package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/rfkih/blackheart-inference/inference"
)

// runRequest is the body of POST /inference/run. Pointers tell a missing
// field from a zero one.
type runRequest struct {
	SignalID     *string `json:"signal_id"`
	Symbol       *string `json:"symbol"`
	TS           *string `json:"ts"`
	IntervalName *string `json:"interval_name"`
	Source       *string `json:"source"`
	Lookahead    *string `json:"lookahead,omitempty"`
}

// backfillRequest is the body of POST /inference/backfill.
type backfillRequest struct {
	SignalID     *string `json:"signal_id"`
	Symbol       *string `json:"symbol"`
	IntervalName *string `json:"interval_name"`
	Start        *string `json:"start"`
	End          *string `json:"end"`
	Source       *string `json:"source"`
	Lookahead    *string `json:"lookahead,omitempty"`
	Mode         *string `json:"mode,omitempty"`
}

type runResponse struct {
	SignalID       string   `json:"signal_id"`
	Symbol         string   `json:"symbol"`
	TS             string   `json:"ts"`
	IntervalName   string   `json:"interval_name"`
	Value          float64  `json:"value"`
	Confidence     *float64 `json:"confidence"`
	Source         string   `json:"source"`
	ModelID        string   `json:"model_id"`
	ArtifactSHA256 string   `json:"artifact_sha256"`
	SpecName       string   `json:"spec_name"`
	Objective      string   `json:"objective"`
	Vintage        string   `json:"vintage"`
	KeptOOF        bool     `json:"kept_oof,omitempty"`
}

type backfillResponse struct {
	SignalID                  string `json:"signal_id"`
	Symbol                    string `json:"symbol"`
	IntervalName              string `json:"interval_name"`
	Source                    string `json:"source"`
	Start                     string `json:"start"`
	End                       string `json:"end"`
	RowsInWindow              int    `json:"rows_in_window"`
	RowsWritten               int    `json:"rows_written"`
	RowsSkippedMissingFeature int    `json:"rows_skipped_missing_features"`
	ModelID                   string `json:"model_id"`
	ArtifactSHA256            string `json:"artifact_sha256"`
	SpecName                  string `json:"spec_name"`
	CompletedAt               string `json:"completed_at"`
	Mode                      string `json:"mode"`
	// HonestFrom is null when the model's vintage is unknown.
	HonestFrom       *string        `json:"honest_from"`
	RowsByVintage    map[string]int `json:"rows_by_vintage"`
	RowsKeptOOF      int            `json:"rows_kept_oof"`
	RowsSkippedNoPIT int            `json:"rows_skipped_no_point_in_time"`
}

func formatTS(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func toRunResponse(r *inference.RunResult) runResponse {
	return runResponse{
		SignalID: r.SignalID, Symbol: r.Symbol, TS: formatTS(r.TS), IntervalName: string(r.Interval),
		Value: r.Value, Confidence: r.Confidence, Source: string(r.Source), ModelID: r.ModelID,
		ArtifactSHA256: r.ArtifactSHA256, SpecName: r.SpecName, Objective: r.Objective, Vintage: string(r.Vintage),
		KeptOOF: r.KeptOOF,
	}
}

func toBackfillResponse(r *inference.BackfillResult) backfillResponse {
	b := backfillResponse{
		SignalID: r.SignalID, Symbol: r.Symbol, IntervalName: string(r.Interval), Source: string(r.Source),
		Start: formatTS(r.Start), End: formatTS(r.End), RowsInWindow: r.RowsInWindow, RowsWritten: r.RowsWritten,
		RowsSkippedMissingFeature: r.RowsSkippedMissing, ModelID: r.ModelID, ArtifactSHA256: r.ArtifactSHA256,
		SpecName: r.SpecName, CompletedAt: formatTS(r.CompletedAt), Mode: r.Mode, RowsByVintage: map[string]int{},
		RowsKeptOOF: r.RowsKeptOOF, RowsSkippedNoPIT: r.RowsSkippedNoPIT,
	}
	if !r.HonestFrom.IsZero() {
		h := formatTS(r.HonestFrom)
		b.HonestFrom = &h
	}
	for c, n := range r.RowsByVintage {
		if n > 0 {
			b.RowsByVintage[string(c)] = n
		}
	}
	return b
}

// fieldError is one entry of validation_failed's details.errors. Reasons are
// ours; caller input is never echoed back beyond a bounded field name.
type fieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

type validation []fieldError

func (v *validation) add(field, reason string) { *v = append(*v, fieldError{field, reason}) }

func (v validation) err() error {
	if len(v) == 0 {
		return nil
	}
	return inference.Errorf(inference.CodeValidationFailed, "the request is invalid: %d problem(s)", len(v)).
		WithDetails(map[string]any{"errors": []fieldError(v)})
}

func invalid(field, reason string) error {
	v := validation{{field, reason}}
	return v.err()
}

// decodeStrict reads a JSON object into dst: unknown fields, wrong types,
// trailing data and bodies over limit are validation_failed.
func decodeStrict(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return invalid("Content-Type", "must be application/json")
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return invalid("body", fmt.Sprintf("larger than %d bytes", limit))
		}
		return invalid("body", "must hold exactly one JSON object")
	}
	return nil
}

func decodeError(err error, limit int64) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return invalid("body", fmt.Sprintf("larger than %d bytes", limit))
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return invalid("body", "must be a JSON object")
		}
		return invalid(bounded(typeErr.Field), "must be a "+jsonKind(typeErr.Type.String()))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("body", "is not valid JSON")
	case errors.Is(err, io.EOF):
		return invalid("body", "is empty")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(bounded(name), "is not a known field")
	}
	return invalid("body", "cannot be decoded")
}

func jsonKind(goType string) string {
	if strings.Contains(goType, "string") {
		return "string"
	}
	return goType
}

func bounded(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

var (
	uuidPattern   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	symbolPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,20}$`)
	agentPattern  = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)
	// computeRunPattern: compute_run_id is an opaque audit label (CONTRACT
	// §8): the feature service sends "bar_event" after a bar-close compute
	// and a compute run's UUID elsewhere. It is stored as given.
	computeRunPattern = regexp.MustCompile(`^[\x20-\x7E]{1,128}$`)
)

// timestampPattern is every timestamp a request may carry (D13), and
// api/openapi.yaml's Timestamp pattern, character for character (a test holds
// them equal): an RFC 3339 date that exists on the calendar, 'T' or a space,
// hh:mm with optional :ss, up to nine fraction digits and, after seconds, an
// optional Z or ±hh:mm offset. Matching it first keeps the service to exactly
// what the document promises (time.Parse alone also takes offsets such as
// +24:00 and fractions of any length).
var timestampPattern = regexp.MustCompile(`^(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?)?$`)

// Timestamp layouts accepted (D13). Layouts without an offset are UTC.
var (
	offsetLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00"}
	naiveLayouts  = []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04"}
)

// parseTimestamp reads an ISO 8601 timestamp: with an offset it is converted,
// without one it is read as UTC (the whole system stores naive UTC).
func parseTimestamp(s string) (time.Time, bool) {
	if !timestampPattern.MatchString(s) {
		return time.Time{}, false
	}
	for _, l := range offsetLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	for _, l := range naiveLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func requireString(v *validation, field string, p *string) string {
	if p == nil {
		v.add(field, "is required")
		return ""
	}
	return *p
}

func checkCommon(v *validation, signalID, symbol *string) (string, string) {
	id := requireString(v, "signal_id", signalID)
	if signalID != nil && !uuidPattern.MatchString(id) {
		v.add("signal_id", "must be a UUID")
	}
	sym := requireString(v, "symbol", symbol)
	if symbol != nil && !symbolPattern.MatchString(sym) {
		v.add("symbol", "must be 1-20 letters, digits, '.', '_' or '-'")
	}
	return strings.ToLower(id), sym
}

func checkTime(v *validation, field string, p *string) time.Time {
	s := requireString(v, field, p)
	if p == nil {
		return time.Time{}
	}
	t, ok := parseTimestamp(s)
	if !ok {
		v.add(field, "must be an ISO 8601 timestamp such as 2026-05-01T12:00:00Z")
	}
	return t
}

// checkOneOf reads an optional enumerated field: "" when absent or null.
func checkOneOf(v *validation, field string, p *string, allowed ...string) string {
	if p == nil {
		return ""
	}
	for _, a := range allowed {
		if *p == a {
			return a
		}
	}
	v.add(field, "must be one of "+strings.Join(allowed, ", "))
	return ""
}

func checkSource(v *validation, p *string, def inference.Source, allowed ...inference.Source) inference.Source {
	if p == nil {
		return def
	}
	for _, a := range allowed {
		if *p == string(a) {
			return a
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	v.add("source", "must be one of "+strings.Join(names, ", "))
	return ""
}

// toDomain validates a decoded body: 422 for shape problems first, then
// 400 bad_interval for an unknown interval.
func (b runRequest) toDomain(agent string) (inference.RunRequest, error) {
	var v validation
	id, sym := checkCommon(&v, b.SignalID, b.Symbol)
	ts := checkTime(&v, "ts", b.TS)
	iv := requireString(&v, "interval_name", b.IntervalName)
	src := checkSource(&v, b.Source, inference.SourceStream,
		inference.SourceStream, inference.SourceCatchupScan, inference.SourceHistoricalReplay)
	look := checkOneOf(&v, "lookahead", b.Lookahead, inference.LookaheadRefuse, inference.LookaheadAllow)
	if err := v.err(); err != nil {
		return inference.RunRequest{}, err
	}
	interval, err := inference.ParseInterval(iv)
	if err != nil {
		return inference.RunRequest{}, err
	}
	return inference.RunRequest{SignalID: id, Symbol: sym, TS: ts, Interval: interval, Source: src, Agent: agent, Lookahead: look}, nil
}

func (b backfillRequest) toDomain(agent string) (inference.BackfillRequest, error) {
	var v validation
	id, sym := checkCommon(&v, b.SignalID, b.Symbol)
	start := checkTime(&v, "start", b.Start)
	end := checkTime(&v, "end", b.End)
	iv := requireString(&v, "interval_name", b.IntervalName)
	src := checkSource(&v, b.Source, inference.SourceHistoricalReplay,
		inference.SourceCatchupScan, inference.SourceHistoricalReplay)
	look := checkOneOf(&v, "lookahead", b.Lookahead, inference.LookaheadRefuse, inference.LookaheadAllow)
	mode := checkOneOf(&v, "mode", b.Mode, inference.ModeModel, inference.ModePointInTime)
	if err := v.err(); err != nil {
		return inference.BackfillRequest{}, err
	}
	interval, err := inference.ParseInterval(iv)
	if err != nil {
		return inference.BackfillRequest{}, err
	}
	return inference.BackfillRequest{SignalID: id, Symbol: sym, Interval: interval, Start: start, End: end, Source: src, Agent: agent,
		Lookahead: look, Mode: mode}, nil
}
