package api

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rfkih/blackheart-inference/inference"
)

func TestParseTimestamp(t *testing.T) {
	want := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"2026-05-01T12:00:00Z", "2026-05-01T12:00:00", "2026-05-01 12:00:00",
		"2026-05-01T14:00:00+02:00", "2026-05-01T07:00:00-05:00", "2026-05-01T12:00", "2026-05-01T12:00:00.000000Z"} {
		got, ok := parseTimestamp(s)
		assert.True(t, ok, s)
		assert.True(t, got.Equal(want), "%s → %s", s, got)
		assert.Equal(t, time.UTC, got.Location(), s)
	}
	for _, s := range []string{"", "yesterday", "2026-13-01T00:00:00Z", "1714564800",
		"2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", // not on the calendar
		"2026-05-01T24:00:00Z", "2026-05-01T12:00:60Z", "2026-05-01T12:00:00+24:00", "2026-05-01T12:00:00+00:60", // out of range (time.Parse takes the offsets)
		"2026-05-01T12:00:00.1234567891Z", "2026-05-01T12:00:00.Z", "2026-05-01T12:00Z", // fractions past ns; an offset needs seconds
		"2026-05-01t12:00:00z", "2026-5-01T12:00:00Z", "２０２６-05-01T12:00:00Z", " 2026-05-01T12:00:00Z"} {
		_, ok := parseTimestamp(s)
		assert.False(t, ok, s)
	}
	for _, s := range []string{"2024-02-29T00:00:00Z", "2000-02-29 00:00", "0000-02-29T00:00:00Z", "2026-05-01T12:00:00.123456789-23:59"} {
		_, ok := parseTimestamp(s)
		assert.True(t, ok, s)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{"127.0.0.1": true, "127.255.0.1": true, "::1": true, "[::1]": true,
		"localhost": true, "0.0.0.0": false, "::": false, "10.0.0.1": false, "example.com": false, "": false} {
		assert.Equal(t, want, IsLoopback(host), host)
	}
}

// TestEnvelopeTable: every code maps to the contract's status and retryable,
// and uncoded errors never leak their text.
func TestEnvelopeTable(t *testing.T) {
	status, env := toEnvelope(errors.New("pq: secret internals"))
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Equal(t, inference.CodeInternal, env.ErrorCode)
	assert.Equal(t, "internal error", env.Message)

	status, env = toEnvelope(inference.Errorf(inference.CodeDBUnavailable, "down"))
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.True(t, env.Retryable)
	assert.Equal(t, &nextAction{Kind: "retry", WaitS: 5}, env.NextAction)

	status, env = toEnvelope(inference.Errorf(inference.CodeFeatureValueMissing, "x"))
	assert.Equal(t, http.StatusConflict, status)
	assert.True(t, env.Retryable)
}
