package storage_test

import (
	"context"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/storage"
	"github.com/rfkih/blackheart-inference/storage/storagetest"
)

var cluster *storagetest.Cluster

func TestMain(m *testing.M) { os.Exit(storagetest.Main(m, &cluster)) }

func open(t *testing.T, dsn string) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), storage.Config{DSN: dsn, MaxPool: 4, QueryTimeout: 10 * time.Second})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// TestNumericIsCorrectlyRounded: NUMERIC(28,10) values read back as the
// float64 nearest to the stored decimal, as Python's float(Decimal) is.
func TestNumericIsCorrectlyRounded(t *testing.T) {
	dsn := cluster.NewDatabase(t)
	seed := storagetest.NewSeed(t, dsn)
	seed.Feature(storagetest.Feature{Name: "f", Version: 1, PerBar: true})
	decimals := []string{"0.1", "0.3333333333", "123456789012345678.1234567891", "-0.0000000001",
		"2.5000000001", "9007199254740993", "0.7258852711", "1e-10"}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, d := range decimals {
		seed.Exec(`INSERT INTO feature_values (feature_name, version, symbol, interval, ts, value, compute_run_id)
			VALUES ('f', 1, 'BTCUSDT', '1h', $1, $2::numeric, gen_random_uuid())`, start.Add(time.Duration(i)*time.Hour), d)
	}
	got := map[time.Time]float64{}
	q := inference.FeatureQuery{PerBar: []inference.FeatureRef{{Name: "f", Version: 1}}, Symbol: "BTCUSDT", Interval: "1h",
		First: start, Last: start.Add(23 * time.Hour)}
	err := open(t, dsn).FeatureValues(context.Background(), q, func(col int, ts time.Time, v float64) { got[ts.UTC()] = v },
		func(int, time.Time, float64) { t.Error("no global values were asked for") })
	require.NoError(t, err)
	for i, d := range decimals {
		want, err := strconv.ParseFloat(d, 64)
		require.NoError(t, err)
		v := got[start.Add(time.Duration(i)*time.Hour)]
		assert.Equal(t, math.Float64bits(want), math.Float64bits(v), "%s read back as %v", d, v)
	}
}

// TestUpsertNeedsTheResearchRole: blackheart_research can upsert;
// blackheart_trading (SELECT/INSERT only) cannot, so the service must run as
// the research role.
func TestUpsertNeedsTheResearchRole(t *testing.T) {
	dsn := cluster.NewDatabase(t)
	seed := storagetest.NewSeed(t, dsn)
	model := seed.Model(storagetest.Model{Symbol: "BTCUSDT", Interval: "1h", Status: "live"})
	sig := seed.Signal("s", model, "active")
	row := []inference.SignalRow{{SignalID: sig, Symbol: "BTCUSDT", TS: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Value: 0.5, Source: inference.SourceStream, Meta: map[string]any{}, ProducedAt: time.Now()}}

	research := open(t, dsn+"&options=-c%20role%3Dblackheart_research")
	require.NoError(t, upsertErr(research.UpsertSignalRows(context.Background(), row, "a")))
	require.NoError(t, upsertErr(research.UpsertSignalRows(context.Background(), row, "b")), "second write is an update")

	trading := open(t, dsn+"&options=-c%20role%3Dblackheart_trading")
	err := upsertErr(trading.UpsertSignalRows(context.Background(), row, "c"))
	require.Error(t, err)
	assert.Equal(t, inference.CodeInternal, inference.ErrorCode(err))
	assert.Contains(t, err.Error(), "permission denied")
}

func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	s, err := storage.Open(context.Background(), storage.Config{DSN: "postgres://postgres@127.0.0.1:1/x?sslmode=disable", MaxPool: 1, ConnectTimeout: time.Second})
	require.NoError(t, err, "opening never waits for the database")
	defer s.Close()
	err = s.Ping(context.Background())
	assert.Equal(t, inference.CodeDBUnavailable, inference.ErrorCode(err))
	_, _, err = s.Resolve(context.Background(), "00000000-0000-0000-0000-000000000000")
	assert.Equal(t, inference.CodeDBUnavailable, inference.ErrorCode(err))
}

// TestRawValueRowsAreScansBits: the feature reads' wire decoder gives what
// pgx's Scan gives, to the bit, at the edges of every column: timestamps
// around PostgreSQL's epoch and far from it with microseconds, -0, NaN,
// subnormals, infinities, the int4 range.
func TestRawValueRowsAreScansBits(t *testing.T) {
	dsn := cluster.NewDatabase(t)
	pool := storagetest.NewSeed(t, dsn).Pool
	const q = `SELECT b, i, ts, v FROM (VALUES
		(true, 0, '1999-12-31 23:59:59.999999+00'::timestamptz, '-0'::float8),
		(false, -5, '2000-01-01 00:00:00+00', 'NaN'),
		(true, 2147483647, '0001-01-01 00:00:00.000001+00', 5e-324),
		(false, -2147483648, '2262-04-12 00:00:00.000001+00', '-Infinity'),
		(true, 1, '9999-12-31 23:59:59.999999+00', 1.7976931348623157e308),
		(false, 39, '2026-05-01 12:00:00+02', 0.7258852711::numeric::float8)) t(b, i, ts, v)`
	type row struct {
		b  bool
		i  int
		ts time.Time
		v  uint64
	}
	var scanned, raw []row
	rows, err := pool.Query(context.Background(), q)
	require.NoError(t, err)
	var r row
	var v float64
	_, err = pgx.ForEachRow(rows, []any{&r.b, &r.i, &r.ts, &v}, func() error {
		r.v = math.Float64bits(v)
		scanned = append(scanned, r)
		return nil
	})
	require.NoError(t, err)
	rows, err = pool.Query(context.Background(), q)
	require.NoError(t, err)
	require.NoError(t, storage.ForEachValueRow(rows, 1, func(b bool, i int, ts time.Time, v float64) error {
		raw = append(raw, row{b, i, ts, math.Float64bits(v)})
		return nil
	}))
	require.Len(t, raw, len(scanned))
	for k := range scanned {
		assert.Equal(t, scanned[k].b, raw[k].b, "row %d", k)
		assert.Equal(t, scanned[k].i, raw[k].i, "row %d", k)
		assert.True(t, scanned[k].ts.Equal(raw[k].ts), "row %d: %s vs %s", k, scanned[k].ts, raw[k].ts)
		assert.Equal(t, time.UTC, raw[k].ts.Location(), "row %d", k)
		assert.Equal(t, scanned[k].v, raw[k].v, "row %d: float bits", k)
	}
}

// TestNumericDecoderIsPostgresFloat8: every NUMERIC(28,10) the feature
// reads decode in Go comes out with the bits of PostgreSQL's own
// value::float8: 200 000 random values of every length and scale, and the
// adversarial ones — 28 digits, 10 decimals, exact halfway cases between
// two doubles (ties to even) and their neighbours, 2^53 ± 1, the smallest
// and largest magnitudes, zero, negatives, NaN.
func TestNumericDecoderIsPostgresFloat8(t *testing.T) {
	dsn := cluster.NewDatabase(t)
	pool := storagetest.NewSeed(t, dsn).Pool
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
		CREATE TABLE n (i int PRIMARY KEY, v numeric(28,10));
		INSERT INTO n SELECT g, round(((random() - 0.5) * 10 ^ (floor(random() * 37) - 19))::numeric, floor(random() * 11)::int)
		FROM generate_series(1, 200000) g;
		INSERT INTO n SELECT 1000000 + row_number() OVER (), v::numeric(28,10) FROM unnest(ARRAY[
			'0', '-0', '0.0000000001', '-0.0000000001', '0.1', '0.7258852711', '2.5000000001',
			'9007199254740991', '9007199254740992', '9007199254740993', '9007199254740995', '-9007199254740993',
			'576460752303423552', '576460752303423680', '576460752303423552.0000000001', '576460752303423551.9999999999',
			'70368744177664.0078125', '70368744177664.0078125001', '70368744177664.0078124999', '70368744177664.0234375',
			'123456789012345678.0123456789', '-123456789012345678.0123456789', '999999999999999999.9999999999',
			'-999999999999999999.9999999999', '0.3333333333', '1e-10', '100000000', '0.0001', 'NaN']) v;
		INSERT INTO n VALUES (2000000, NULL)`)
	require.NoError(t, err)
	read := func(q string) map[int]uint64 {
		rows, err := pool.Query(ctx, q)
		require.NoError(t, err)
		out := map[int]uint64{}
		require.NoError(t, storage.ForEachValueRow(rows, 0, func(_ bool, i int, _ time.Time, v float64) error {
			out[i] = math.Float64bits(v)
			return nil
		}))
		return out
	}
	ours := read(`SELECT i, now(), COALESCE(v, 'NaN'::numeric) FROM n`)
	theirs := read(`SELECT i, now(), COALESCE(v::float8, 'NaN'::float8) FROM n`)
	require.Len(t, ours, 200000+29+1)
	require.Equal(t, len(theirs), len(ours))
	for i, want := range theirs {
		if ours[i] != want {
			t.Fatalf("row %d: Go %v (%016x), PostgreSQL %v (%016x)", i, math.Float64frombits(ours[i]), ours[i],
				math.Float64frombits(want), want)
		}
	}
}

// TestGenericPlansStayInTheirBatch: the per-bar statements' generic plans
// are local to their batch, whether it committed or failed; the connection
// goes back to the pool with its custom-plan default.
func TestGenericPlansStayInTheirBatch(t *testing.T) {
	dsn := cluster.NewDatabase(t)
	seed := storagetest.NewSeed(t, dsn)
	seed.Feature(storagetest.Feature{Name: "f", Version: 1, PerBar: true})
	model := seed.Model(storagetest.Model{Symbol: "BTCUSDT", Interval: "1h", Status: "live"})
	sig := seed.Signal("s", model, "active")
	s, err := storage.Open(context.Background(), storage.Config{DSN: dsn, MaxPool: 1, QueryTimeout: 10 * time.Second})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	ctx := context.Background()
	settled := func(after string) {
		t.Helper()
		for name, want := range map[string]string{"plan_cache_mode": "force_custom_plan", "max_parallel_workers_per_gather": "2"} {
			v, err := storage.Setting(s, name)
			require.NoError(t, err)
			assert.Equal(t, want, v, "%s after %s", name, after)
		}
	}
	settled("opening")

	bar := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	refs := []inference.FeatureRef{{Name: "f", Version: 1}}
	q := inference.FeatureQuery{PerBar: refs, Symbol: "BTCUSDT", Interval: "1h", First: bar, Last: bar}
	ignore := func(int, time.Time, float64) {}
	_, _, _, err = s.Snapshot(ctx, sig, refs, q, ignore, ignore)
	require.NoError(t, err)
	settled("a snapshot")
	_, _, _, err = s.Snapshot(ctx, "not-a-uuid", refs, q, ignore, ignore)
	assert.Equal(t, inference.CodeSignalNotFound, inference.ErrorCode(err))
	settled("a failed snapshot")

	row := inference.SignalRow{SignalID: sig, Symbol: "BTCUSDT", TS: bar, Value: 0.5, Source: inference.SourceStream,
		Meta: map[string]any{}, ProducedAt: time.Now()}
	require.NoError(t, upsertErr(s.UpsertSignalRows(ctx, []inference.SignalRow{row}, "a")))
	settled("an upsert")
	row.TS = time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC)
	err = upsertErr(s.UpsertSignalRows(ctx, []inference.SignalRow{row}, "a"))
	assert.Equal(t, inference.CodeSignalHistoryPartitionMissing, inference.ErrorCode(err))
	settled("a failed upsert")
}

// TestLockGroup: a group's locks exclude TryLock's (the same keys, from
// another session) and another holder's lock excludes the group's member;
// the states are read under the locks, a missing signal included.
func TestLockGroup(t *testing.T) {
	dsn := cluster.NewDatabase(t)
	seed := storagetest.NewSeed(t, dsn)
	model := seed.Model(storagetest.Model{Symbol: "BTCUSDT", Interval: "1h", Status: "live"})
	s1, s2, s3 := seed.Signal("s1", model, "active"), seed.Signal("s2", model, "shadow"), seed.Signal("s3", model, "active")
	missing := "99999999-9999-9999-9999-999999999999"
	bar := time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC)
	ctx := context.Background()
	a, b := open(t, dsn), open(t, dsn)
	require.NoError(t, upsertErr(a.UpsertSignalRows(ctx, []inference.SignalRow{{SignalID: s2, Symbol: "BTCUSDT", TS: bar, Value: 0.5,
		Source: inference.SourceStream, Meta: map[string]any{}, ProducedAt: time.Now()}}, "t")))
	key := func(id string) string { return "stream:" + id + ":BTCUSDT" }

	unlock3, ok, err := b.TryLock(ctx, key(s3))
	require.NoError(t, err)
	require.True(t, ok)
	held, states, unlock, err := a.LockGroup(ctx, []string{key(s1), key(s2), key(s3), key(missing)}, []string{s1, s2, s3, missing}, "BTCUSDT")
	require.NoError(t, err)
	assert.Equal(t, []bool{true, true, false, true}, held)
	assert.Equal(t, inference.MemberState{Found: true, Status: inference.SignalActive, ModelID: model}, states[0])
	require.NotNil(t, states[1].LastTS)
	assert.True(t, states[1].LastTS.Equal(bar))
	assert.Equal(t, inference.SignalShadow, states[1].Status)
	assert.False(t, states[3].Found)

	_, ok, err = b.TryLock(ctx, key(s1))
	require.NoError(t, err)
	assert.False(t, ok, "the group's lock excludes another session's TryLock")
	unlock()
	unlock3()
	u, ok, err := b.TryLock(ctx, key(s1))
	require.NoError(t, err)
	assert.True(t, ok, "released with the group")
	u()
	held, _, unlock, err = a.LockGroup(ctx, []string{key(s3)}, []string{s3}, "BTCUSDT")
	require.NoError(t, err)
	assert.Equal(t, []bool{true}, held, "released by its holder")
	unlock()
}

// TestStreamTargets: active and shadow signals with their model and their
// newest row, however old; a signal without rows has none.
func TestStreamTargets(t *testing.T) {
	dsn := cluster.NewDatabase(t)
	seed := storagetest.NewSeed(t, dsn)
	model := seed.Model(storagetest.Model{Symbol: "BTCUSDT", Interval: "1h", Status: "live"})
	old, recent, none := seed.Signal("a_old", model, "active"), seed.Signal("b_recent", model, "shadow"), seed.Signal("c_none", model, "active")
	seed.Signal("d_retired", model, "retired")
	s := open(t, dsn)
	ctx := context.Background()
	at := func(id string, ts time.Time) {
		require.NoError(t, upsertErr(s.UpsertSignalRows(ctx, []inference.SignalRow{{SignalID: id, Symbol: "BTCUSDT", TS: ts, Value: 1,
			Source: inference.SourceStream, Meta: map[string]any{}, ProducedAt: time.Now()}}, "t")))
	}
	jan, nov := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC)
	at(old, jan)
	at(recent, jan)
	at(recent, nov)
	targets, err := s.StreamTargets(ctx)
	require.NoError(t, err)
	require.Len(t, targets, 3, "active and shadow only")
	want := map[string]*time.Time{old: &jan, recent: &nov, none: nil}
	for _, tg := range targets {
		assert.Equal(t, model, tg.ModelID)
		if w := want[tg.SignalID]; w == nil {
			assert.Nil(t, tg.LastTS, tg.Name)
		} else if assert.NotNil(t, tg.LastTS, tg.Name) {
			assert.True(t, tg.LastTS.Equal(*w), "%s: %s", tg.Name, tg.LastTS)
		}
	}
}

// TestReplicas: each store takes a slot of its own on first use and ranks
// itself among the slots held in its database; a closed store's slot goes.
func TestReplicas(t *testing.T) {
	dsn := cluster.NewDatabase(t)
	other := cluster.NewDatabase(t)
	ctx := context.Background()
	place := func(s *storage.Store) [2]int { // rank, number alive
		t.Helper()
		rank, n, err := s.Replicas(ctx)
		require.NoError(t, err)
		return [2]int{rank, n}
	}
	a, b := open(t, dsn), open(t, dsn)
	elsewhere := open(t, other)
	assert.Equal(t, [2]int{0, 1}, place(elsewhere), "another database's replicas are not ours")
	assert.Equal(t, [2]int{0, 1}, place(a), "alone so far")
	assert.Equal(t, [2]int{1, 2}, place(b))
	assert.Equal(t, [2]int{0, 2}, place(a), "the same slot, kept")
	b.Close()
	assert.Equal(t, [2]int{0, 1}, place(a), "a closed replica's slot is gone")
	c := open(t, dsn)
	assert.Equal(t, [2]int{1, 2}, place(c), "a newcomer takes the free slot")
	a.LeaveReplicas()
	assert.Equal(t, [2]int{0, 1}, place(c), "a stopped worker's slot is gone")
}

// TestUpsertKeepsEachRowsMeta: rows that share a meta document and rows
// whose documents differ (a multiclass backfill's proba, a batch's label)
// each get their own back, in one many-row upsert; the values too.
func TestUpsertKeepsEachRowsMeta(t *testing.T) {
	dsn := cluster.NewDatabase(t)
	seed := storagetest.NewSeed(t, dsn)
	model := seed.Model(storagetest.Model{Symbol: "BTCUSDT", Interval: "1h", Status: "live"})
	a, b := seed.Signal("a", model, "active"), seed.Signal("b", model, "active")
	s, err := storage.Open(context.Background(), storage.Config{DSN: dsn, MaxPool: 1, QueryTimeout: 10 * time.Second})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	shared := map[string]any{"model_id": model, "objective": "binary"}
	var rows []inference.SignalRow
	for i := 0; i < 6; i++ {
		meta := shared
		switch i {
		case 2:
			meta = map[string]any{"model_id": model, "proba": []any{0.25, 0.5, 0.25}}
		case 4:
			meta = map[string]any{"model_id": model, "compute_run_id": "bar_event"}
		}
		for _, id := range []string{a, b} {
			rows = append(rows, inference.SignalRow{SignalID: id, Symbol: "BTCUSDT", TS: first.Add(time.Duration(i) * time.Hour),
				Value: float64(i) + 0.125, Source: inference.SourceHistoricalReplay, Meta: meta, ProducedAt: first})
		}
	}
	require.NoError(t, upsertErr(s.UpsertSignalRows(context.Background(), rows, "t")))
	for _, want := range rows {
		var value float64
		var meta map[string]any
		require.NoError(t, seed.Pool.QueryRow(context.Background(), `SELECT value, meta FROM signal_history
			WHERE signal_id = $1 AND symbol = 'BTCUSDT' AND ts = $2`, want.SignalID, want.TS).Scan(&value, &meta))
		assert.Equal(t, want.Value, value, "%s at %s", want.SignalID, want.TS)
		assert.Equal(t, want.Meta, meta, "%s at %s", want.SignalID, want.TS)
	}
}

// upsertErr is UpsertSignalRows' error alone, for the tests that keep no row.
func upsertErr(_ []int, err error) error { return err }
