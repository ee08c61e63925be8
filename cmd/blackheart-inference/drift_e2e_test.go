package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/storage/storagetest"
)

// driftRefFeature is one feature as reference.py reads it: the values in
// each window as the decimal strings PostgreSQL holds.
type driftRefFeature struct {
	Feature  string   `json:"feature"`
	Baseline []string `json:"baseline"`
	Live     []string `json:"live"`
}

type driftRefReport struct {
	MaxPSI             string `json:"max_psi"`
	DriftCount         int    `json:"drift_count"`
	WarnCount          int    `json:"warn_count"`
	RetrainRecommended bool   `json:"retrain_recommended"`
	Note               string `json:"note"`
	Features           []struct {
		Feature   string `json:"feature"`
		PSI       string `json:"psi"`
		Verdict   string `json:"verdict"`
		BaselineN int    `json:"baseline_n"`
		LiveN     int    `json:"live_n"`
	} `json:"features"`
}

// driftWorld is one randomized request: its features' rows in PostgreSQL
// (in-window values, NULLs, rows just outside each bound, another symbol's
// rows) and what the reference should see of them.
type driftWorld struct {
	symbol, interval       string
	liveDays, baselineDays int
	refs                   []string // name:version as requested
	ref                    []driftRefFeature
}

func seedDriftWorld(t *testing.T, seed *storagetest.Seed, r *rand.Rand, k int) driftWorld {
	w := driftWorld{liveDays: []int{1, 7, 30}[r.IntN(3)], baselineDays: []int{7, 30, 90}[r.IntN(3)]}
	if r.IntN(2) == 0 {
		w.symbol, w.interval = "BTCUSDT", "1h"
	}
	liveStart := fixedNow.Add(-time.Duration(w.liveDays) * 24 * time.Hour)
	baseStart := liveStart.Add(-time.Duration(w.baselineDays) * 24 * time.Hour)
	for f := 0; f < 1+r.IntN(5); f++ {
		name, version := fmt.Sprintf("drift_w%d_f%d", k, f), 1+r.IntN(2)
		seed.Feature(storagetest.Feature{Name: name, Version: version, PerBar: w.symbol != ""})
		ref := driftRefFeature{Feature: name, Baseline: []string{}, Live: []string{}}
		var ts []time.Time
		var vals []string
		add := func(at time.Time, v string, inBase, inLive bool) {
			ts, vals = append(ts, at), append(vals, v)
			switch {
			case v == "" || (!inBase && !inLive):
			case inBase:
				ref.Baseline = append(ref.Baseline, v)
			default:
				ref.Live = append(ref.Live, v)
			}
		}
		c := randomPSIValues(r)
		if k%4 == 0 { // a calm world: large windows from one distribution
			c = psiValues{base: normals(r, 600, 0), live: normals(r, 600, 0)}
		}
		// Distinct stamps: minute steps within each window, in random order.
		for i, v := range c.base {
			add(baseStart.Add(time.Duration(i)*time.Minute+time.Duration(r.IntN(60))*time.Second), v, true, false)
		}
		for i, v := range c.live {
			add(liveStart.Add(time.Duration(i)*time.Minute+time.Duration(r.IntN(60))*time.Second+time.Microsecond), v, false, true)
		}
		// The bounds: baseline_start and live_start are in, now is out; a
		// microsecond before baseline_start is out; NULLs never count.
		add(baseStart.Add(-time.Microsecond), "1000", false, false)
		add(fixedNow, "1000", false, false)
		if r.IntN(2) == 0 {
			add(liveStart, strconv.Itoa(r.IntN(3)), false, true) // exactly live_start: live
			add(baseStart.Add(-time.Second), "", false, false)
			add(liveStart.Add(-time.Microsecond), "", false, false)
		}
		insertDriftValues(t, seed, name, version, w.symbol, w.interval, ts, vals)
		// Another symbol's and a decoy version's rows are never read.
		insertDriftValues(t, seed, name, version, "ETHUSDT", "15m", []time.Time{liveStart.Add(time.Hour)}, []string{"-999"})
		w.refs = append(w.refs, name+":"+strconv.Itoa(version))
		w.ref = append(w.ref, ref)
	}
	return w
}

type psiValues struct{ base, live []string }

// randomPSIValues draws windows around the rule's edges: too few values,
// ties, constants, shifts, values with up to 10 decimals.
func randomPSIValues(r *rand.Rand) psiValues {
	nb := []int{0, 5, 19, 20, 21, 60, 300}[r.IntN(7)]
	nl := []int{0, 4, 5, 6, 40}[r.IntN(5)]
	shift := []float64{0, 0, 0.2, 1, 4}[r.IntN(5)]
	kind := r.IntN(4)
	draw := func(n int, s float64) []string {
		out := make([]string, n)
		for i := range out {
			v := r.NormFloat64()
			switch kind {
			case 1:
				v = float64(r.IntN(3))
			case 2:
				v = -0.5
			case 3:
				v = math.Round(v*10) / 10
			}
			out[i] = strconv.FormatFloat(v+s, 'f', r.IntN(11), 64)
		}
		return out
	}
	return psiValues{base: draw(nb, 0), live: draw(nl, shift)}
}

func normals(r *rand.Rand, n int, shift float64) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.FormatFloat(r.NormFloat64()+shift, 'f', 6, 64)
	}
	return out
}

func insertDriftValues(t *testing.T, seed *storagetest.Seed, name string, version int, symbol, interval string, ts []time.Time, vals []string) {
	t.Helper()
	seed.Exec(`
		INSERT INTO feature_values (feature_name, version, symbol, interval, ts, value, value_text, compute_run_id)
		SELECT $1, $2, $3, $4, u.ts, NULLIF(u.v, '')::numeric, CASE WHEN u.v = '' THEN 'null value' END, gen_random_uuid()
		FROM unnest($5::timestamptz[], $6::text[]) AS u(ts, v)`, name, version, symbol, interval, ts, vals)
}

// TestFeatureDriftMatchesTheReference: GET /monitoring/drift?features=…
// against PostgreSQL on randomized worlds gives the Python restatement's
// verdicts, counts, notes and order exactly and its PSI within 1e-12.
func TestFeatureDriftMatchesTheReference(t *testing.T) {
	e := newEnv(t)
	r := rand.New(rand.NewPCG(19, 11))
	worlds := make([]driftWorld, 24)
	reports := make([]map[string]any, len(worlds))
	for k := range worlds {
		worlds[k] = seedDriftWorld(t, e.seed, r, k)
		reports[k] = map[string]any{"features": worlds[k].ref}
	}
	var ref struct {
		Reports []driftRefReport `json:"reports"`
	}
	inferencetest.DriftReference(t, map[string]any{"reports": reports}, &ref)
	require.Len(t, ref.Reports, len(worlds))
	notes := map[string]bool{}
	for k, w := range worlds {
		q := url.Values{"features": {strings.Join(w.refs, ",")}, "live_days": {strconv.Itoa(w.liveDays)},
			"baseline_days": {strconv.Itoa(w.baselineDays)}}
		if w.symbol != "" {
			q.Set("symbol", w.symbol)
			q.Set("interval", w.interval)
		}
		resp := e.do(http.MethodGet, "/monitoring/drift?"+q.Encode(), nil, nil)
		require.Equal(t, http.StatusOK, resp.status, string(resp.raw))
		want := ref.Reports[k]
		name := fmt.Sprintf("world %d", k)
		assert.Equal(t, w.symbol, resp.body["symbol"], name)
		assert.EqualValues(t, w.liveDays, resp.body["live_window_days"], name)
		assert.EqualValues(t, w.baselineDays, resp.body["baseline_window_days"], name)
		assert.EqualValues(t, want.DriftCount, resp.body["drift_count"], name)
		assert.EqualValues(t, want.WarnCount, resp.body["warn_count"], name)
		assert.Equal(t, want.RetrainRecommended, resp.body["retrain_recommended"], name)
		assert.Equal(t, want.Note, resp.body["note"], name)
		notes[want.Note] = true
		closeTo(t, want.MaxPSI, resp.body["max_psi"], name+": max_psi")
		got := resp.body["features"].([]any)
		require.Len(t, got, len(want.Features), name)
		for i, wf := range want.Features {
			gf := got[i].(map[string]any)
			assert.Equal(t, wf.Feature, gf["feature"], "%s: feature %d (the order)", name, i)
			assert.Equal(t, wf.Verdict, gf["verdict"], "%s: %s", name, wf.Feature)
			assert.EqualValues(t, wf.BaselineN, gf["baseline_n"], "%s: %s", name, wf.Feature)
			assert.EqualValues(t, wf.LiveN, gf["live_n"], "%s: %s", name, wf.Feature)
			closeTo(t, wf.PSI, gf["psi"], name+": "+wf.Feature)
		}
	}
	assert.True(t, notes["OK"], "some world is all OK")
	assert.Greater(t, len(notes), 3, "the worlds reach several notes: %v", notes)
}

func closeTo(t *testing.T, want string, got any, what string) {
	t.Helper()
	w, err := strconv.ParseFloat(want, 64)
	require.NoError(t, err)
	g, ok := got.(float64)
	require.True(t, ok, "%s: %v is not a number", what, got)
	assert.InDelta(t, w, g, 1e-12*math.Max(math.Abs(w), 1e-300), what)
}

// TestFeatureDriftRefusals: bad parameters are validation_failed naming the field.
func TestFeatureDriftRefusals(t *testing.T) {
	e := newEnv(t)
	for query, field := range map[string]string{
		"":                                        "features",
		"features=":                               "features",
		"features=a:0":                            "features",
		"features=a:x":                            "features",
		"features=a,,b":                           "features",
		"features=a&live_days=0":                  "live_days",
		"features=a&live_days=91":                 "live_days",
		"features=a&live_days=seven":              "live_days",
		"features=a&baseline_days=6":              "baseline_days",
		"features=a&baseline_days=731":            "baseline_days",
		"features=a&interval=2h":                  "interval",
		"features=a&symbol=BTC%20USDT":            "symbol",
		"features=a&bogus=1":                      "bogus",
		"features=a&features=b":                   "features",
		"signal_id=nope":                          "signal_id",
		"signal_id=" + demoSignal + "&features=a": "features",
		"signal_id=" + demoSignal + "&baseline_days=30": "baseline_days",
	} {
		resp := e.do(http.MethodGet, "/monitoring/drift?"+query, nil, nil)
		wantError(t, resp, http.StatusUnprocessableEntity, "validation_failed")
		errs := resp.body["details"].(map[string]any)["errors"].([]any)
		fields := []string{}
		for _, fe := range errs {
			fields = append(fields, fe.(map[string]any)["field"].(string))
		}
		assert.Contains(t, fields, field, "?%s", query)
	}
	wantError(t, e.do(http.MethodGet, "/monitoring/drift?signal_id=00000000-0000-0000-0000-000000000000", nil, nil), 404, "signal_not_found")
	resp := e.do(http.MethodGet, "/monitoring/drift?features=a", nil, map[string]string{"X-Inference-Token": ""})
	wantError(t, resp, 401, "auth_missing_token")
}
