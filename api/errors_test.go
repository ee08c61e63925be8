package api

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
)

// contractCodes is CONTRACT §7's table for the codes this build emits.
var contractCodes = map[inference.Code]struct {
	status    int
	retryable bool
}{
	"auth_missing_token": {401, false}, "auth_bad_token": {401, false}, "validation_failed": {422, false},
	"bad_interval": {400, false}, "bad_window": {400, false}, "bad_timestamp": {400, false},
	"signal_not_found": {404, false}, "model_not_found": {404, false}, "signal_retired": {409, false},
	"model_lifecycle_refused": {409, false}, "model_artifact_missing": {409, false},
	"model_scope_mismatch": {409, false}, "model_not_servable": {409, false},
	"feature_not_registered": {409, false}, "feature_value_missing": {409, true},
	"signal_history_partition_missing": {409, false}, "backfill_window_too_large": {413, false},
	"backfill_busy":         {429, true},
	"artifact_file_missing": {502, false}, "artifact_corrupt": {502, false},
	"not_found": {404, false}, "method_not_allowed": {405, false},
	"db_unavailable": {503, true}, "artifact_store_unavailable": {503, true}, "internal_error": {500, false},
	"evaluator_mismatch":        {500, false},
	"explanation_not_supported": {409, false},
	"lookahead_refused":         {409, false}, // issue 26
	"label_not_available":       {409, false}, // issue 27
}

func TestEveryCodeHasItsContractStatus(t *testing.T) {
	assert.Len(t, codeInfo, len(contractCodes), "codeInfo and the contract list the same codes")
	for code, want := range contractCodes {
		status, env := toEnvelope(inference.Errorf(code, "x"))
		assert.Equal(t, want.status, status, code)
		assert.Equal(t, want.retryable, env.Retryable, code)
		assert.Equal(t, code, env.ErrorCode)
	}
}

func readme(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	return string(raw)
}

// headingAnchors are the README's headings as GitHub slugs them.
func headingAnchors(doc string) map[string]bool {
	out := map[string]bool{}
	drop := regexp.MustCompile("[^a-z0-9 _-]")
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		slug := drop.ReplaceAllString(strings.ToLower(title), "")
		out["#"+strings.ReplaceAll(slug, " ", "-")] = true
	}
	return out
}

func TestREADMEListsEveryCodeAndEveryAnchorResolves(t *testing.T) {
	doc := readme(t)
	anchors := headingAnchors(doc)
	for code := range codeInfo {
		assert.True(t, strings.Contains(doc, "`"+string(code)+"`"), "the README's error table lists %s", code)
		if a := actionFor(code, nil); a.DocAnchor != "" {
			assert.True(t, anchors[a.DocAnchor], "%s points callers at %s, which is no README heading", code, a.DocAnchor)
		}
	}
}

// A backfill that failed after committing chunks must tell its caller how
// many rows are in: on db_unavailable (details kept) and on internal_error
// (everything else stripped).
func TestEnvelopeKeepsRowsWrittenBeforeError(t *testing.T) {
	_, env := toEnvelope(inference.Errorf(inference.CodeDBUnavailable, "down").
		WithDetails(map[string]any{"wait_s": 5, "rows_written_before_error": 40000}))
	assert.Equal(t, 40000, env.Details["rows_written_before_error"])

	_, env = toEnvelope(inference.Wrap(context.Canceled, inference.CodeInternal, "secret").
		WithDetails(map[string]any{"rows_written_before_error": 20000, "dsn": "postgres://secret"}))
	assert.Equal(t, map[string]any{"rows_written_before_error": 20000}, env.Details)
	assert.Equal(t, "internal error", env.Message)
}

// The OpenAPI document describes every route, and its x-error-codes table is
// codeInfo's: the same codes with the same status and retryable.
func TestOpenAPIDocumentMatchesTheServer(t *testing.T) {
	raw, err := OpenAPIDocument()
	require.NoError(t, err)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
		Codes   map[string]struct {
			Status    int  `json:"status"`
			Retryable bool `json:"retryable"`
		} `json:"x-error-codes"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)
	s := &Server{}
	for _, rt := range s.routes() {
		ops, ok := doc.Paths[rt.path]
		if assert.True(t, ok, "%s is described", rt.path) {
			assert.Contains(t, ops, strings.ToLower(rt.methods[0]), rt.path)
		}
	}
	assert.Len(t, doc.Paths, len(s.routes()), "no described path without a route")
	assert.Len(t, doc.Codes, len(codeInfo))
	enum := doc.Components.Schemas["Error"].Properties["error_code"].Enum
	assert.Len(t, enum, len(codeInfo))
	for code, want := range codeInfo {
		got, ok := doc.Codes[string(code)]
		if assert.True(t, ok, "%s is in x-error-codes", code) {
			assert.Equal(t, want.status, got.Status, code)
			assert.Equal(t, want.retryable, got.Retryable, code)
		}
		assert.Contains(t, enum, string(code))
	}
}

// TestOpenAPIPatternsAreTheServers: every pattern the document states for a
// request value is the very expression the server validates it with, so the
// document admits exactly what the service accepts.
func TestOpenAPIPatternsAreTheServers(t *testing.T) {
	raw, err := OpenAPIDocument()
	require.NoError(t, err)
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas    map[string]struct{ Pattern string } `json:"schemas"`
			Parameters map[string]struct {
				Schema struct{ Pattern string } `json:"schema"`
			} `json:"parameters"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	assert.Equal(t, timestampPattern.String(), doc.Components.Schemas["Timestamp"].Pattern)
	assert.Equal(t, uuidPattern.String(), doc.Components.Schemas["UUID"].Pattern)
	assert.Equal(t, symbolPattern.String(), doc.Components.Schemas["Symbol"].Pattern)
	assert.Equal(t, featuresPattern.String(), doc.Components.Schemas["DriftFeatures"].Pattern)
	// X-Agent-Name: the document also admits the empty value, which is anonymous.
	assert.Equal(t, strings.Replace(agentPattern.String(), "{1,64}", "{0,64}", 1), doc.Components.Parameters["AgentName"].Schema.Pattern)
	var batch struct {
		RequestBody struct {
			Content map[string]struct {
				Schema struct {
					Properties map[string]struct{ Pattern string } `json:"properties"`
				} `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
	}
	require.NoError(t, json.Unmarshal(doc.Paths["/inference/batch-predict"]["post"], &batch))
	assert.Equal(t, computeRunPattern.String(), batch.RequestBody.Content["application/json"].Schema.Properties["compute_run_id"].Pattern)
}
