package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/rfkih/blackheart-inference/inference"
)

// codeInfo is the one table mapping error codes to HTTP status and retryable.
var codeInfo = map[inference.Code]struct {
	status    int
	retryable bool
}{
	inference.CodeAuthMissingToken:              {http.StatusUnauthorized, false},
	inference.CodeAuthBadToken:                  {http.StatusUnauthorized, false},
	inference.CodeValidationFailed:              {http.StatusUnprocessableEntity, false},
	inference.CodeBadInterval:                   {http.StatusBadRequest, false},
	inference.CodeBadWindow:                     {http.StatusBadRequest, false},
	inference.CodeBadTimestamp:                  {http.StatusBadRequest, false},
	inference.CodeSignalNotFound:                {http.StatusNotFound, false},
	inference.CodeModelNotFound:                 {http.StatusNotFound, false},
	inference.CodeSignalRetired:                 {http.StatusConflict, false},
	inference.CodeModelLifecycleRefused:         {http.StatusConflict, false},
	inference.CodeModelArtifactMissing:          {http.StatusConflict, false},
	inference.CodeModelScopeMismatch:            {http.StatusConflict, false},
	inference.CodeModelNotServable:              {http.StatusConflict, false},
	inference.CodeFeatureNotRegistered:          {http.StatusConflict, false},
	inference.CodeFeatureValueMissing:           {http.StatusConflict, true},
	inference.CodeSignalHistoryPartitionMissing: {http.StatusConflict, false},
	inference.CodeBackfillWindowTooLarge:        {http.StatusRequestEntityTooLarge, false},
	inference.CodeBackfillBusy:                  {http.StatusTooManyRequests, true},
	inference.CodeNotFound:                      {http.StatusNotFound, false},
	inference.CodeMethodNotAllowed:              {http.StatusMethodNotAllowed, false},
	inference.CodeArtifactFileMissing:           {http.StatusBadGateway, false},
	inference.CodeArtifactCorrupt:               {http.StatusBadGateway, false},
	inference.CodeDBUnavailable:                 {http.StatusServiceUnavailable, true},
	inference.CodeArtifactStoreUnavailable:      {http.StatusServiceUnavailable, true},
	inference.CodeInternal:                      {http.StatusInternalServerError, false},
	inference.CodeEvaluatorMismatch:             {http.StatusInternalServerError, false},
	inference.CodeExplanationNotSupported:       {http.StatusConflict, false},
	inference.CodeLookaheadRefused:              {http.StatusConflict, false},
	inference.CodeLabelNotAvailable:             {http.StatusConflict, false},
}

// rowsBeforeError is the detail a failed backfill carries: the rows its
// committed chunks wrote.
const rowsBeforeError = "rows_written_before_error"

// nextAction is the envelope's machine-readable suggestion.
type nextAction struct {
	Kind      string `json:"kind"`
	Method    string `json:"method,omitempty"`
	Path      string `json:"path,omitempty"`
	WaitS     int    `json:"wait_s,omitempty"`
	DocAnchor string `json:"doc_anchor,omitempty"`
	Hint      string `json:"hint,omitempty"`
}

// envelope is the error body every caller branches on (by error_code only).
type envelope struct {
	ErrorCode  inference.Code `json:"error_code"`
	Message    string         `json:"message"`
	Retryable  bool           `json:"retryable"`
	Hint       string         `json:"hint,omitempty"`
	NextAction *nextAction    `json:"next_action,omitempty"`
	Details    map[string]any `json:"details,omitempty"`
}

func actionFor(code inference.Code, e *inference.Error) *nextAction {
	switch code {
	case inference.CodeDBUnavailable, inference.CodeArtifactStoreUnavailable, inference.CodeBackfillBusy:
		return &nextAction{Kind: "retry", WaitS: inference.DBRetryWaitSeconds}
	case inference.CodeFeatureValueMissing:
		return &nextAction{Kind: "retry", WaitS: 60, Hint: "backfill the listed features, then retry this call"}
	case inference.CodeBackfillWindowTooLarge:
		return &nextAction{Kind: "call", Method: http.MethodPost, Path: "/inference/backfill", Hint: "split the window into smaller ones"}
	case inference.CodeAuthMissingToken, inference.CodeAuthBadToken:
		return &nextAction{Kind: "read_doc", DocAnchor: "#authentication"}
	case inference.CodeValidationFailed, inference.CodeBadInterval, inference.CodeBadWindow, inference.CodeBadTimestamp:
		return &nextAction{Kind: "read_doc", DocAnchor: "#api"}
	case inference.CodeLookaheadRefused:
		a := &nextAction{Kind: "call", Method: http.MethodPost, Path: "/inference/backfill", DocAnchor: "#point-in-time-honesty"}
		if e != nil {
			a.Hint = e.Hint
		}
		return a
	case inference.CodeSignalNotFound, inference.CodeModelNotFound, inference.CodeModelScopeMismatch:
		return &nextAction{Kind: "note", Hint: "check the signal id, symbol and interval against signal_definition and model_registry"}
	}
	return &nextAction{Kind: "contact_human"}
}

// toEnvelope converts any error. Uncoded errors become internal_error and
// their text never reaches the wire.
func toEnvelope(err error) (int, envelope) {
	var e *inference.Error
	if !errors.As(err, &e) {
		e = &inference.Error{Code: inference.CodeInternal, Message: "internal error", Err: err}
	}
	info, ok := codeInfo[e.Code]
	if !ok {
		e = &inference.Error{Code: inference.CodeInternal, Message: "internal error", Err: err}
		info = codeInfo[inference.CodeInternal]
	}
	env := envelope{ErrorCode: e.Code, Message: e.Message, Retryable: info.retryable, Hint: e.Hint, Details: e.Details}
	if e.Code == inference.CodeInternal {
		// Nothing of an unexpected failure reaches the wire but the count
		// of rows a backfill had committed, which the caller must know.
		env.Message, env.Details = "internal error", nil
		if n, ok := e.Details[rowsBeforeError]; ok {
			env.Details = map[string]any{rowsBeforeError: n}
		}
	}
	env.NextAction = actionFor(e.Code, e)
	return info.status, env
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
