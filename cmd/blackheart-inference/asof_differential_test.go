package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
	"github.com/rfkih/blackheart-inference/storage/storagetest"
)

// TestAsOfDifferential checks every write path against the training-time
// feature rule, restated independently in Python (testdata/asof/reference.py,
// pandas merge_asof / reindex) and predicted by Python's own Booster. Each
// seed generates a registry and feature_values full of edges — values exactly
// at bars, exactly at the cap, cap ± 1 µs, sub-second and mid-bar stamps,
// NULLs, decoy versions and symbols, values published after the bar, per-bar
// holes — and then /inference/run (every bar), /inference/backfill (windows
// that start, end and chunk at every bar), the streaming worker and
// /inference/batch-predict must each produce exactly the reference vector
// and value bits for every bar, or refuse exactly the bars the reference
// refuses, naming the same inputs. Zero tolerance; the seed is in the name.
// BLACKHEART_ASOF_SEEDS raises the seed count (default 24).
func TestAsOfDifferential(t *testing.T) {
	n := 24
	if v := os.Getenv("BLACKHEART_ASOF_SEEDS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err, "BLACKHEART_ASOF_SEEDS")
	}
	cases := make([]*asofCase, n)
	for i := range cases {
		cases[i] = genAsOfCase(t, uint64(i+1))
	}
	refs := asofReference(t, cases)
	ready, refused := 0, 0
	for _, r := range refs {
		for _, b := range r.Bars {
			if b.Ready {
				ready++
			} else {
				refused++
			}
		}
	}
	t.Logf("%d seeds: the reference serves %d bars and refuses %d", n, ready, refused)
	require.NotZero(t, ready, "the generator must produce servable bars")
	require.NotZero(t, refused, "the generator must produce refused bars")
	for i, c := range cases {
		t.Run(fmt.Sprintf("seed=%d", c.Seed), func(t *testing.T) {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("reproduce with seed %d (model %s, %s, %d bars)", c.Seed, c.model, c.Interval, len(c.BarsUS))
				}
			})
			checkAsOfCase(t, c, refs[i])
		})
	}
}

// asofCase is one generated world; its JSON is what reference.py reads.
type asofCase struct {
	Seed     uint64         `json:"seed"`
	Artifact string         `json:"artifact"`
	Symbol   string         `json:"symbol"`
	Interval string         `json:"interval"`
	BarsUS   []int64        `json:"bars_us"`
	Columns  []asofColumn   `json:"columns"`
	Values   []asofValueRow `json:"values"`

	model    string
	sha      string
	maxGapH  int
	features []asofColumn // registered, for seeding (decoys included)
}

type asofColumn struct {
	Name        string  `json:"name"`
	Version     int     `json:"version"`
	PerBar      bool    `json:"per_bar"`
	FfillPolicy *string `json:"ffill_policy"`
	MaxAgeHours *int    `json:"max_ffill_age_hours"`
	Indicator   bool    `json:"indicator"`
}

// asofValueRow is [name, version, symbol, interval, ts µs, decimal text or null].
type asofValueRow [6]any

type asofRefBar struct {
	Ready   bool     `json:"ready"`
	Vector  []string `json:"vector"`
	Value   string   `json:"value"`
	Missing []string `json:"missing"`
}

type asofRef struct {
	Seed uint64       `json:"seed"`
	Bars []asofRefBar `json:"bars"`
}

func (c *asofCase) bar(i int) time.Time { return time.UnixMicro(c.BarsUS[i]).UTC() }

func (c *asofCase) step() time.Duration {
	iv, _ := inference.ParseInterval(c.Interval)
	return iv.Duration()
}

func genAsOfCase(t *testing.T, seed uint64) *asofCase {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	model := []string{"regression", "stacked_regression"}[rng.IntN(2)]
	gc := inferencetest.CaseNamed(t, model)
	store := inferencetest.Store()
	art, err := store.Load(context.Background(), gc.SHA)
	require.NoError(t, err)

	c := &asofCase{Seed: seed, model: model, sha: gc.SHA, Symbol: "BTCUSDT",
		Artifact: filepath.Join(inferencetest.ArtifactDir(), gc.SHA[:2], gc.SHA+".pkl")}
	c.Interval = []string{"15m", "1h", "4h"}[rng.IntN(3)]
	d := c.step()
	switch c.Interval {
	case "15m":
		c.maxGapH = 2 + rng.IntN(2)
	case "1h":
		c.maxGapH = 6 + rng.IntN(8)
	default:
		c.maxGapH = 4 * (3 + rng.IntN(3))
	}
	nBars := int(time.Duration(c.maxGapH)*time.Hour/d) + 1
	// After the model's honest_from (its spec window ends 2026-05-31, plus
	// the 7-day embargo): every replay is out of sample, under the default
	// refuse policy.
	first := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(200)) * 24 * time.Hour)
	for i := 0; i < nBars; i++ {
		c.BarsUS = append(c.BarsUS, first.Add(time.Duration(i)*d).UnixMicro())
	}

	decimal := func() *string {
		if rng.IntN(20) == 0 {
			return nil // NULL
		}
		digits := rng.IntN(11)
		s := fmt.Sprintf("%d", rng.IntN(2000)-1000)
		if digits > 0 {
			s += "." + fmt.Sprintf("%0*d", digits, rng.Int64N(int64(math.Pow10(digits))))
		}
		return &s
	}
	add := func(col asofColumn, symbol, interval string, ts time.Time) {
		var v any
		if p := decimal(); p != nil {
			v = *p
		}
		c.Values = append(c.Values, asofValueRow{col.Name, col.Version, symbol, interval, ts.UnixMicro(), v})
	}

	perBarSeen := false
	for i, name := range art.InputFeatures {
		if name == "interval_indicator" {
			c.Columns = append(c.Columns, asofColumn{Name: name, Indicator: true})
			continue
		}
		col := asofColumn{Name: name, Version: art.Payload.FeatureVersions[name]}
		kind := rng.IntN(10)
		if !perBarSeen && i == len(art.InputFeatures)-2 {
			kind = 0 // at least one per-bar input: no bar before the window is ever ready
		}
		switch {
		case kind < 4:
			col.PerBar, perBarSeen = true, true
		case kind < 8:
			p := "last_value"
			col.FfillPolicy = &p
			caps := []int{0, 1, 2, 3, 5, 8, 24}
			if h := caps[rng.IntN(len(caps))]; h > 0 {
				col.MaxAgeHours = &h
			}
		default:
			if rng.IntN(2) == 0 {
				p := "none"
				col.FfillPolicy = &p
			}
		}
		c.Columns = append(c.Columns, col)
		c.features = append(c.features, col)
		// A decoy version (registered, never the pinned one) and a decoy symbol.
		decoy := col
		decoy.Version = col.Version + 10
		c.features = append(c.features, decoy)

		cap := 168 * time.Hour
		if col.MaxAgeHours != nil {
			cap = time.Duration(*col.MaxAgeHours) * time.Hour
		}
		for b := 0; b < nBars; b++ {
			bar := c.bar(b)
			switch {
			case col.PerBar:
				if rng.IntN(10) < 9 {
					add(col, c.Symbol, c.Interval, bar)
				}
				if rng.IntN(6) == 0 { // off-grid stamps never count
					add(col, c.Symbol, c.Interval, bar.Add([]time.Duration{time.Microsecond, d / 2, -time.Second}[rng.IntN(3)]))
				}
				if rng.IntN(4) == 0 {
					add(decoy, c.Symbol, c.Interval, bar)
					add(col, "ETHUSDT", c.Interval, bar)
				}
			default:
				offsets := []time.Duration{0, 0, -cap, -cap - time.Microsecond, -cap + time.Microsecond,
					d / 2, -d / 2, -500 * time.Millisecond, 123456 * time.Microsecond, -time.Microsecond, time.Microsecond}
				if col.FfillPolicy == nil || *col.FfillPolicy != "last_value" {
					if rng.IntN(10) < 9 {
						add(col, "", "", bar) // an exact-match global lives on the grid
					}
					offsets = offsets[5:] // plus off-grid stamps that never count
				}
				for k := rng.IntN(3); k > 0; k-- {
					add(col, "", "", bar.Add(offsets[rng.IntN(len(offsets))]))
				}
				if rng.IntN(5) == 0 {
					add(decoy, "", "", bar)
					add(col, c.Symbol, c.Interval, bar) // a per-bar-scoped row of a global: never read
				}
			}
		}
		if !col.PerBar { // published after the window, and long before it
			add(col, "", "", c.bar(nBars-1).Add(d+time.Duration(rng.IntN(60))*time.Minute))
			if rng.IntN(2) == 0 {
				add(col, "", "", c.bar(0).Add(-cap-time.Duration(1+rng.IntN(48))*time.Hour))
			}
		}
	}
	// Primary keys: the last row written for a key wins, as ON CONFLICT would
	// make it ambiguous; keep the first of each key.
	seen := map[string]bool{}
	kept := c.Values[:0]
	for _, r := range c.Values {
		k := fmt.Sprint(r[0], r[1], r[2], r[3], r[4])
		if !seen[k] {
			seen[k] = true
			kept = append(kept, r)
		}
	}
	c.Values = kept
	return c
}

// asofReference runs reference.py once over every case.
func asofReference(t *testing.T, cases []*asofCase) []asofRef {
	t.Helper()
	root := filepath.Join(inferencetest.Dir(), "..", "..")
	py := filepath.Join(root, ".venv", "bin", "python")
	_, err := os.Stat(py)
	require.NoError(t, err, "the pinned Python venv is part of make test's set-up (make venv)")
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json")
	raw, err := json.Marshal(map[string]any{"cases": cases})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(in, raw, 0o600))
	cmd := exec.Command(py, filepath.Join(root, "testdata", "asof", "reference.py"), in, out)
	cmd.Env = append(os.Environ(), "OPENBLAS_NUM_THREADS=1")
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "reference.py: %s", msg)
	raw, err = os.ReadFile(out)
	require.NoError(t, err)
	var res struct{ Cases []asofRef }
	require.NoError(t, json.Unmarshal(raw, &res))
	require.Len(t, res.Cases, len(cases))
	return res.Cases
}

// recorder wraps the native loaders and keeps every row a model is asked
// to predict, in call order.
type recorder struct {
	mu   sync.Mutex
	rows [][]float64
}

func (r *recorder) loaders() inference.Loaders {
	return inference.Loaders{
		LightGBM: func(text string, it int) (inference.Model, error) {
			m, err := loaders.LightGBM(text, it)
			if err != nil {
				return nil, err
			}
			return &recordingModel{Model: m, r: r}, nil
		},
		XGBoost: loaders.XGBoost,
	}
}

func (r *recorder) take() [][]float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.rows
	r.rows = nil
	return out
}

type recordingModel struct {
	inference.Model
	r *recorder
}

func (m *recordingModel) keep(rows []float64) {
	m.r.mu.Lock()
	defer m.r.mu.Unlock()
	nf := m.NumFeatures()
	for i := 0; i+nf <= len(rows); i += nf {
		m.r.rows = append(m.r.rows, slices.Clone(rows[i:i+nf]))
	}
}

func (m *recordingModel) Predict(ctx context.Context, row []float64, raw bool) ([]float64, error) {
	m.keep(row)
	return m.Model.Predict(ctx, row, raw)
}

func (m *recordingModel) PredictBatch(ctx context.Context, rows []float64, raw bool) ([]float64, error) {
	m.keep(rows)
	return m.Model.PredictBatch(ctx, rows, raw)
}

// asofWorld is one seed's database and service.
type asofWorld struct {
	t        *testing.T
	e        *testEnv
	c        *asofCase
	ref      asofRef
	rec      *recorder
	clock    *testClock
	app      *app
	signalID string
	modelID  string
}

func checkAsOfCase(t *testing.T, c *asofCase, ref asofRef) {
	require.Equal(t, c.Seed, ref.Seed)
	require.Len(t, ref.Bars, len(c.BarsUS))
	w := newAsofWorld(t, c, ref)
	t.Run("run", w.checkRun)
	t.Run("backfill", w.checkBackfill)
	t.Run("stream", w.checkStream)
	t.Run("stream-group", w.checkStreamGroup)
	t.Run("batch-predict", w.checkBatch)
}

func newAsofWorld(t *testing.T, c *asofCase, ref asofRef) *asofWorld {
	dsn := cluster.NewDatabase(t)
	w := &asofWorld{t: t, c: c, ref: ref, rec: &recorder{}, clock: &testClock{}}
	w.clock.Set(c.bar(len(c.BarsUS) - 1))
	cfg, err := parseConfig(map[string]string{})
	require.NoError(t, err)
	cfg.Storage.DSN = dsn
	cfg.Inference.ArtifactDir = inferencetest.ArtifactDir()
	cfg.Inference.BackfillChunkBars = 3 // chunk edges fall on many bars
	cfg.Inference.Stream = inference.StreamConfig{Enabled: true, PollSeconds: 1, MaxGapHours: c.maxGapH,
		Concurrency: cfg.Inference.Stream.Concurrency, GroupSize: cfg.Inference.Stream.GroupSize} // the production defaults
	cfg.API.AuthToken = testToken
	w.app, err = newAppWith(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), w.clock.Now, w.rec.loaders())
	require.NoError(t, err)
	srv := httptest.NewServer(w.app.handler)
	t.Cleanup(func() { srv.Close(); w.app.close() })
	w.e = &testEnv{t: t, srv: srv, app: w.app, cfg: cfg}
	w.e.seed = storagetest.NewSeed(t, dsn)

	s := w.e.seed
	modelID := s.Model(storagetest.Model{Symbol: c.Symbol, Interval: c.Interval, Status: "live", SHA: c.sha})
	w.signalID, w.modelID = s.Signal(fmt.Sprintf("asof_%d", c.Seed), modelID, "active"), modelID
	for _, f := range c.features {
		ffill := ""
		if f.FfillPolicy != nil {
			ffill = *f.FfillPolicy
		}
		age := 0
		if f.MaxAgeHours != nil {
			age = *f.MaxAgeHours
		}
		s.Feature(storagetest.Feature{Name: f.Name, Version: f.Version, PerBar: f.PerBar, Ffill: ffill, MaxAgeHours: age})
	}
	names, versions, symbols, intervals, texts := []string{}, []int32{}, []string{}, []string{}, []*string{}
	ts := []time.Time{}
	for _, r := range c.Values {
		names, versions = append(names, r[0].(string)), append(versions, int32(r[1].(int)))
		symbols, intervals = append(symbols, r[2].(string)), append(intervals, r[3].(string))
		ts = append(ts, time.UnixMicro(r[4].(int64)).UTC())
		if r[5] == nil {
			texts = append(texts, nil)
		} else {
			v := r[5].(string)
			texts = append(texts, &v)
		}
	}
	// A NULL value keeps a value_text (the table's CHECK): such rows exist.
	s.Exec(`
		INSERT INTO feature_values (feature_name, version, symbol, interval, ts, value, value_text, compute_run_id)
		SELECT u.n, u.v, u.s, u.i, u.ts, u.x::numeric, CASE WHEN u.x IS NULL THEN 'n/a' END, gen_random_uuid()
		FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::timestamptz[], $6::text[]) AS u(n, v, s, i, ts, x)`,
		names, versions, symbols, intervals, ts, texts)
	return w
}

func (w *asofWorld) clearHistory() {
	w.e.seed.Exec(`DELETE FROM signal_history WHERE signal_id = $1::uuid`, w.signalID)
	w.rec.take()
}

// written is signal_history as ts → value bits.
func (w *asofWorld) written() map[time.Time]uint64 {
	out := map[time.Time]uint64{}
	for _, r := range w.e.seed.History(w.signalID) {
		out[r.TS.UTC()] = math.Float64bits(r.Value)
	}
	return out
}

func hexToBits(t *testing.T, h string) uint64 {
	t.Helper()
	b, err := strconv.ParseUint(h, 16, 64)
	require.NoError(t, err)
	return b
}

// checkRows compares the rows a path predicted (in call order) with the
// reference vectors of the bars it wrote (ascending ts).
func (w *asofWorld) checkRows(t *testing.T, what string, bars []int, rows [][]float64) {
	t.Helper()
	require.Len(t, rows, len(bars), "%s: rows predicted vs bars written", what)
	for k, b := range bars {
		want := w.ref.Bars[b].Vector
		for j, v := range rows[k] {
			assert.Equal(t, hexToBits(t, want[j]), math.Float64bits(v),
				"%s bar %s column %s: vector value %v", what, w.c.bar(b).Format(time.RFC3339), w.c.Columns[j].Name, v)
		}
	}
}

// checkWritten compares signal_history with the reference on bars [lo, hi].
func (w *asofWorld) checkWritten(t *testing.T, what string, lo, hi int, expectWritten func(i int) bool) []int {
	t.Helper()
	got := w.written()
	var bars []int
	for i := lo; i <= hi; i++ {
		ts := w.c.bar(i)
		bits, ok := got[ts]
		if !expectWritten(i) {
			assert.False(t, ok, "%s wrote bar %s, which the reference refuses (missing %v)", what, ts.Format(time.RFC3339), w.ref.Bars[i].Missing)
			continue
		}
		if assert.True(t, ok, "%s did not write bar %s", what, ts.Format(time.RFC3339)) {
			assert.Equal(t, hexToBits(t, w.ref.Bars[i].Value), bits, "%s bar %s value", what, ts.Format(time.RFC3339))
			bars = append(bars, i)
		}
		delete(got, ts)
	}
	assert.Empty(t, got, "%s wrote bars outside [%d, %d]", what, lo, hi)
	return bars
}

func missingNames(details any) []string {
	d, _ := details.(map[string]any)
	list, _ := d["features"].([]any)
	var out []string
	for _, f := range list {
		m, _ := f.(map[string]any)
		out = append(out, fmt.Sprint(m["feature"]))
	}
	sort.Strings(out)
	return out
}

func sortedCopy(s []string) []string { s = slices.Clone(s); sort.Strings(s); return s }

func (w *asofWorld) checkRun(t *testing.T) {
	for i := range w.c.BarsUS {
		w.clearHistory()
		bar := w.c.bar(i)
		resp := w.e.post("/inference/run", map[string]any{"signal_id": w.signalID, "symbol": w.c.Symbol,
			"ts": bar.Format(time.RFC3339), "interval_name": w.c.Interval, "source": "stream"})
		ref := w.ref.Bars[i]
		if !ref.Ready {
			if assert.Equal(t, 409, resp.status, "bar %s: %s", bar.Format(time.RFC3339), resp.raw) {
				assert.Equal(t, "feature_value_missing", resp.body["error_code"])
				assert.Equal(t, sortedCopy(ref.Missing), missingNames(resp.body["details"]), "bar %s missing inputs", bar.Format(time.RFC3339))
			}
			assert.Empty(t, w.written(), "a refused run writes nothing")
			continue
		}
		if !assert.Equal(t, 200, resp.status, "bar %s: %s", bar.Format(time.RFC3339), resp.raw) {
			continue
		}
		assert.Equal(t, hexToBits(t, ref.Value), math.Float64bits(resp.body["value"].(float64)), "bar %s response value", bar.Format(time.RFC3339))
		bars := w.checkWritten(t, "run", i, i, func(int) bool { return true })
		w.checkRows(t, "run", bars, w.rec.take())
	}
}

func (w *asofWorld) backfill(t *testing.T, start, end time.Time, lo, hi int) {
	t.Helper()
	w.clearHistory()
	resp := w.e.post("/inference/backfill", map[string]any{"signal_id": w.signalID, "symbol": w.c.Symbol,
		"interval_name": w.c.Interval, "start": start.Format(time.RFC3339Nano), "end": end.Format(time.RFC3339Nano),
		"source": "historical_replay"})
	what := fmt.Sprintf("backfill [%s, %s)", start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano))
	require.Equal(t, 200, resp.status, "%s: %s", what, resp.raw)
	skipped := 0
	for i := lo; i <= hi; i++ {
		if !w.ref.Bars[i].Ready {
			skipped++
		}
	}
	assert.EqualValues(t, hi-lo+1, resp.body["rows_in_window"], what)
	assert.EqualValues(t, skipped, resp.body["rows_skipped_missing_features"], what)
	bars := w.checkWritten(t, what, lo, hi, func(i int) bool { return w.ref.Bars[i].Ready })
	w.checkRows(t, what, bars, w.rec.take())
}

func (w *asofWorld) checkBackfill(t *testing.T) {
	n, d := len(w.c.BarsUS), w.c.step()
	w.backfill(t, w.c.bar(0), w.c.bar(n-1).Add(d), 0, n-1)
	for i := 0; i < n; i++ {
		// bar i ends a window, starts one, and stands alone in one with
		// off-grid, sub-second edges.
		w.backfill(t, w.c.bar(0).Add(-d/2), w.c.bar(i).Add(time.Microsecond), 0, i)
		w.backfill(t, w.c.bar(i), w.c.bar(n-1).Add(d), i, n-1)
		w.backfill(t, w.c.bar(i).Add(-time.Nanosecond-d/3), w.c.bar(i).Add(d/2), i, i)
	}
}

func (w *asofWorld) checkStream(t *testing.T) {
	w.clearHistory()
	n := len(w.c.BarsUS)
	w.clock.Set(w.c.bar(n - 1).Add(w.c.step() / 2))
	w.app.worker.RunOnce(context.Background())
	first, newest := -1, -1
	for i, b := range w.ref.Bars {
		if b.Ready {
			if first < 0 {
				first = i
			}
			newest = i
		}
	}
	st := targetStatus(t, w.app, w.signalID)
	if first < 0 {
		assert.Equal(t, inference.StateWaiting, st.State)
		assert.Empty(t, w.written())
		return
	}
	bars := w.checkWritten(t, "stream", 0, n-1, func(i int) bool { return i >= first && i <= newest && w.ref.Bars[i].Ready })
	w.checkRows(t, "stream", bars, w.rec.take())
	// Stalled bars: the not-ready ones between the first and newest ready.
	stalled := map[string][]string{}
	for _, sb := range st.Stalled {
		var names []string
		for _, m := range sb.Missing {
			names = append(names, m.Feature)
		}
		stalled[sb.TS.UTC().Format(time.RFC3339)] = sortedCopy(names)
	}
	for i := first; i <= newest; i++ {
		if !w.ref.Bars[i].Ready {
			ts := w.c.bar(i).Format(time.RFC3339)
			assert.Equal(t, sortedCopy(w.ref.Bars[i].Missing), stalled[ts], "stalled bar %s", ts)
		}
	}
	if newest < n-1 {
		var waiting []string
		for _, m := range st.WaitingOn {
			waiting = append(waiting, m.Feature)
		}
		assert.Equal(t, sortedCopy(w.ref.Bars[newest+1].Missing), sortedCopy(waiting), "waiting_on")
	}
}

// checkStreamGroup is checkStream with a second signal on the same model,
// so that the worker catches the two up as one group (one read, one
// prediction, one upsert: checkStream's count of predicted rows holds only
// if the twin's were not predicted again): the signal's rows hold to the
// reference as alone, and the twin's are the same rows, to the bit.
func (w *asofWorld) checkStreamGroup(t *testing.T) {
	twin := w.e.seed.Signal(fmt.Sprintf("asof_%d_twin", w.c.Seed), w.modelID, "active")
	defer func() { // the other paths' checks see the signal alone
		w.e.seed.Exec(`DELETE FROM signal_history WHERE signal_id = $1::uuid`, twin)
		w.e.seed.Exec(`DELETE FROM signal_definition WHERE signal_id = $1::uuid`, twin)
	}()
	w.checkStream(t)
	want, got := w.e.seed.History(w.signalID), w.e.seed.History(twin)
	require.Len(t, got, len(want), "the twin's rows")
	for i := range want {
		assert.True(t, want[i].TS.Equal(got[i].TS))
		assert.Equal(t, math.Float64bits(want[i].Value), math.Float64bits(got[i].Value), "twin's value at %s", want[i].TS)
		assert.Equal(t, want[i].Source, got[i].Source)
	}
	assert.Equal(t, targetStatus(t, w.app, w.signalID).State, targetStatus(t, w.app, twin).State)
}

func (w *asofWorld) checkBatch(t *testing.T) {
	for k := range w.c.BarsUS {
		w.clearHistory()
		w.clock.Set(w.c.bar(k).Add(time.Second))
		resp := w.e.post("/inference/batch-predict", map[string]any{"compute_run_id": "33333333-3333-3333-3333-33333333333" + strconv.Itoa(k%10)})
		require.Equal(t, 200, resp.status, "%s", resp.raw)
		want := -1
		for j := k; j >= 0; j-- {
			if w.ref.Bars[j].Ready {
				want = j
				break
			}
		}
		if want < 0 {
			assert.Equal(t, "error", resp.body["status"], "now %s: no ready bar", w.c.bar(k).Format(time.RFC3339))
			assert.Contains(t, fmt.Sprint(resp.body["rows_failed"]), "feature_value_missing")
			assert.Empty(t, w.written())
			continue
		}
		assert.Equal(t, "ok", resp.body["status"], "now %s: %s", w.c.bar(k).Format(time.RFC3339), resp.raw)
		bars := w.checkWritten(t, "batch-predict at "+w.c.bar(k).Format(time.RFC3339), 0, len(w.c.BarsUS)-1,
			func(i int) bool { return i == want })
		w.checkRows(t, "batch-predict", bars, w.rec.take())
	}
}
