package inference

import (
	"errors"
	"fmt"
)

// Code is a wire error code. Callers branch on it, so codes are append-only:
// never rename or reuse one. The HTTP status and retryable flag for each live
// in the api package's single table.
type Code string

// The error codes of ../shared/CONTRACT.md §7.
const (
	CodeAuthMissingToken              Code = "auth_missing_token"
	CodeAuthBadToken                  Code = "auth_bad_token"
	CodeValidationFailed              Code = "validation_failed"
	CodeBadInterval                   Code = "bad_interval"
	CodeBadWindow                     Code = "bad_window"
	CodeBadTimestamp                  Code = "bad_timestamp"
	CodeSignalNotFound                Code = "signal_not_found"
	CodeModelNotFound                 Code = "model_not_found"
	CodeSignalRetired                 Code = "signal_retired"
	CodeModelLifecycleRefused         Code = "model_lifecycle_refused"
	CodeModelArtifactMissing          Code = "model_artifact_missing"
	CodeModelScopeMismatch            Code = "model_scope_mismatch"
	CodeModelNotServable              Code = "model_not_servable"
	CodeFeatureNotRegistered          Code = "feature_not_registered"
	CodeFeatureValueMissing           Code = "feature_value_missing"
	CodeSignalHistoryPartitionMissing Code = "signal_history_partition_missing"
	CodeBackfillWindowTooLarge        Code = "backfill_window_too_large"
	CodeArtifactFileMissing           Code = "artifact_file_missing"
	CodeArtifactCorrupt               Code = "artifact_corrupt"
	CodeDBUnavailable                 Code = "db_unavailable"
	CodeInternal                      Code = "internal_error"
	CodeNotFound                      Code = "not_found"
	CodeMethodNotAllowed              Code = "method_not_allowed"
	CodeArtifactStoreUnavailable      Code = "artifact_store_unavailable"
	CodeBackfillBusy                  Code = "backfill_busy"
	CodeEvaluatorMismatch             Code = "evaluator_mismatch"
	CodeExplanationNotSupported       Code = "explanation_not_supported"
	CodeLookaheadRefused              Code = "lookahead_refused"
	CodeLabelNotAvailable             Code = "label_not_available"
)

// DBRetryWaitSeconds is the wait suggested to callers when the database is
// unavailable (db_unavailable's next_action and details.wait_s).
const DBRetryWaitSeconds = 5

// Error is the one error type of the service. Message is safe to show to a
// caller; Err, the cause, is for logs only and never reaches the wire.
type Error struct {
	Code    Code
	Message string
	Hint    string
	Details map[string]any
	Err     error
}

// Errorf returns an *Error with a formatted, caller-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given message whose cause is err.
func Wrap(err error, code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// WithDetails sets Details and returns e, for chaining at construction.
func (e *Error) WithDetails(details map[string]any) *Error {
	e.Details = details
	return e
}

// WithHint sets Hint and returns e, for chaining at construction.
func (e *Error) WithHint(hint string) *Error {
	e.Hint = hint
	return e
}

// Error includes the cause, for logs; the wire uses Code and Message only.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code carried by err, or CodeInternal when err carries
// none: an uncoded error is by definition one we did not anticipate.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// SafeMessage is the text of err that may be shown to a caller: a coded
// error's message, or "internal error" for an uncoded or internal one,
// whose text stays in the logs.
func SafeMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal {
		return e.Message
	}
	return "internal error"
}
