package main

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/native"
)

// explainedSet is one entry of /inference/explain's explanations.
type explainedSet struct {
	member  string
	class   int // -1: null
	bias    float64
	byName  map[string]float64
	ordered []float64 // contributions in response order
}

func explainedSets(t *testing.T, r response) []explainedSet {
	t.Helper()
	var out []explainedSet
	for _, raw := range r.body["explanations"].([]any) {
		m := raw.(map[string]any)
		s := explainedSet{class: -1, bias: num(t, m["bias"]), byName: map[string]float64{}}
		if v, ok := m["member"].(string); ok {
			s.member = v
		}
		if v, ok := m["class"].(float64); ok {
			s.class = int(v)
		}
		assert.LessOrEqual(t, num(t, m["additivity_error"]), num(t, m["tolerance"]), "bias + contributions = raw_score")
		for _, c := range m["contributions"].([]any) {
			cm := c.(map[string]any)
			v := num(t, cm["contribution"])
			s.byName[cm["feature"].(string)] = v
			s.ordered = append(s.ordered, v)
		}
		out = append(out, s)
	}
	return out
}

// TestExplainMatchesPythonAndWritesNothing: /inference/explain over
// PostgreSQL for a LightGBM booster, a multiclass booster, an XGBoost model
// and the trainer's ensemble answers Python's contributions bit for bit
// (pred_contrib / pred_contribs; the logistic member's coef · scaled x),
// the value run then writes, and writes nothing itself. The pure-Go build
// refuses XGBoost by name.
func TestExplainMatchesPythonAndWritesNothing(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"binary", "multiclass", "xgb_binary", "ensemble"} {
		t.Run(name, func(t *testing.T) {
			s := e.scenario(name, scenarioOpts{})
			nf := len(s.c.FeatureNames)
			var explained []response
			for i := range s.bars {
				r := e.post("/inference/explain", s.runBody(i))
				if s.c.Ensemble() && native.Flavor == "purego" {
					wantError(t, r, http.StatusConflict, "explanation_not_supported")
					assert.Contains(t, r.body["message"], "XGBoost")
					continue
				}
				require.Equal(t, http.StatusOK, r.status, string(r.raw))
				assert.Equal(t, false, r.body["written"])
				assert.NotEmpty(t, r.body["additivity"])
				explained = append(explained, r)
				row := s.c.DecimalRows[i]
				sets := explainedSets(t, r)
				seen := map[string]int{}
				for _, set := range sets {
					for j := 1; j < len(set.ordered); j++ {
						assert.GreaterOrEqual(t, math.Abs(set.ordered[j-1]), math.Abs(set.ordered[j]), "largest first")
					}
					want := s.c.Contrib
					if s.c.Ensemble() {
						want = s.c.MemberContrib[set.member]
					}
					k := seen[set.member]
					seen[set.member]++
					block := want[row][k*(nf+1) : (k+1)*(nf+1)]
					bitsEqual(t, block[nf], set.bias, "bias")
					require.Len(t, set.byName, nf)
					for j, f := range s.c.FeatureNames {
						bitsEqual(t, block[j], set.byName[f], name+" "+set.member+" "+f)
					}
				}
				if !s.c.Ensemble() {
					require.Len(t, sets, s.c.NumClass)
					assert.Equal(t, s.c.NumClass > 1, sets[0].class >= 0, "a class index only for multiclass")
				}
			}
			assert.Empty(t, e.seed.History(s.signalID), "explain writes nothing")
			if len(explained) > 0 {
				timed := scrape(t, e.srv.URL)["blackheart_inference_prediction_duration_seconds{flavour="+native.Flavor+",kind=explain}_count"]
				assert.GreaterOrEqual(t, timed, float64(len(explained)), "explanations are timed under kind=explain")
			}
			for i, r := range explained { // the prediction is the one run writes
				w := e.post("/inference/run", s.runBody(i))
				require.Equal(t, http.StatusOK, w.status, string(w.raw))
				bitsEqual(t, num(t, w.body["value"]), num(t, r.body["value"]), "explain's value is run's")
			}
		})
	}
}

// TestExplainRefusesAsRunAndPythonDo: a bar run refuses is refused the same
// way; a model Python cannot explain is explanation_not_supported in
// LightGBM's words; nothing is written either way.
func TestExplainRefusesAsRunAndPythonDo(t *testing.T) {
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	body := s.runBody(0)
	body["ts"] = s.bars[len(s.bars)-1].Add(24 * time.Hour).Format(time.RFC3339)
	wantError(t, e.post("/inference/explain", body), http.StatusConflict, "feature_value_missing")

	lt := e.scenario("linear_tree", scenarioOpts{symbol: "ETHUSDT"})
	r := e.post("/inference/explain", lt.runBody(0))
	wantError(t, r, http.StatusConflict, "explanation_not_supported")
	assert.Contains(t, r.body["message"], lt.c.ContribRefused)
	assert.Empty(t, e.seed.History(s.signalID))
	assert.Empty(t, e.seed.History(lt.signalID))
}

// topOf is Python's k largest contributions of one row, by magnitude.
func topOf(c []float64, names []string, k int) map[string]float64 {
	idx := make([]int, len(names))
	for i := range idx {
		idx[i] = i
	}
	for i := 1; i < len(idx); i++ { // insertion sort: stable, largest first
		for j := i; j > 0 && math.Abs(c[idx[j]]) > math.Abs(c[idx[j-1]]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	out := map[string]float64{}
	for _, j := range idx[:k] {
		out[names[j]] = c[j]
	}
	return out
}

// TestTopContributionsOnEveryWritePath: with INFERENCE_EXPLAIN_TOP_K=2,
// run, backfill, the streaming worker and batch-predict each write
// meta.top_contributions — Python's two largest, bit for bit — on every
// row; a model Python cannot explain still gets its rows, marked
// top_contributions_refused.
func TestTopContributionsOnEveryWritePath(t *testing.T) {
	topK := func(c *config) { c.Inference.ExplainTopK = 2 }
	e := newEnv(t, topK)
	s := e.scenario("binary", scenarioOpts{})
	check := func(path string, rows int) {
		t.Helper()
		got := e.seed.History(s.signalID)
		require.Len(t, got, rows, path)
		nf := len(s.c.FeatureNames)
		for _, row := range got {
			i := int(row.TS.Sub(s.bars[0]) / time.Hour)
			bitsEqual(t, s.want(i)[0], row.Value, path+": the value is Python's, explained or not")
			want := topOf(s.c.Contrib[s.c.DecimalRows[i]][:nf], s.c.FeatureNames, 2)
			sets, ok := row.Meta["top_contributions"].([]any)
			require.True(t, ok, "%s: bar %d has top_contributions: %v", path, i, row.Meta)
			require.Len(t, sets, 1)
			set := sets[0].(map[string]any)
			assert.Equal(t, inference.SpaceRawMargin, set["space"])
			top := set["top"].([]any)
			require.Len(t, top, 2)
			for _, x := range top {
				f := x.(map[string]any)
				w, ok := want[f["feature"].(string)]
				require.True(t, ok, "%s: %v is not among Python's two largest %v", path, f, want)
				bitsEqual(t, w, num(t, f["contribution"]), path)
			}
		}
	}

	r := e.post("/inference/run", s.runBody(0))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	check("run", 1)
	r = e.post("/inference/backfill", s.backfillBody(s.bars[1], s.bars[4], "historical_replay"))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	check("backfill", 4)

	clock := &testClock{}
	clock.Set(s.bars[5].Add(30 * time.Minute))
	a := newStreamApp(t, e.cfg.Storage.DSN, clock, 24, topK)
	require.Equal(t, 2, a.worker.RunOnce(context.Background()).Written)
	check("streaming", 6)

	e.seed.Exec(`DELETE FROM signal_history WHERE signal_id = $1`, s.signalID)
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	featureServiceCall(t, srv.URL)
	check("batch-predict", 1)

	lt := e.scenario("linear_tree", scenarioOpts{symbol: "ETHUSDT"})
	r = e.post("/inference/run", lt.runBody(0))
	require.Equal(t, http.StatusOK, r.status, "an explanation Python refuses never stops the write: %s", r.raw)
	rows := e.seed.History(lt.signalID)
	require.Len(t, rows, 1)
	assert.Nil(t, rows[0].Meta["top_contributions"])
	assert.Contains(t, rows[0].Meta["top_contributions_refused"], "explanation_not_supported: LightGBM: "+lt.c.ContribRefused)
}
