package inference

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"
)

// memStore is an in-memory Store for the domain's unit tests. It keeps the
// semantics the SQL has (inclusive bounds, NULL as NaN); the real queries
// are tested against PostgreSQL in storage and end to end.
type memStore struct {
	mu       sync.Mutex
	defs     map[FeatureRef]FeatureDef
	values   map[memKey][]memPoint
	upserted [][]SignalRow
	last     map[string]time.Time
}

type memKey struct {
	ref              FeatureRef
	symbol, interval string
}

type memPoint struct {
	ts time.Time
	v  float64 // NaN: NULL
}

func newMemStore() *memStore {
	return &memStore{defs: map[FeatureRef]FeatureDef{}, values: map[memKey][]memPoint{}, last: map[string]time.Time{}}
}

func (m *memStore) feature(name string, version int, perBar bool, ffill string, capHours int) FeatureRef {
	ref := FeatureRef{name, version}
	m.defs[ref] = FeatureDef{FeatureRef: ref, Status: FeatureRegistered, PerBar: perBar, FfillPolicy: ffill, MaxFfillAgeHours: capHours}
	return ref
}

func (m *memStore) value(ref FeatureRef, symbol, interval string, ts time.Time, v float64) {
	k := memKey{ref, symbol, interval}
	m.values[k] = append(m.values[k], memPoint{ts, v})
}

func (m *memStore) Resolve(context.Context, string) (Signal, ModelRecord, error) {
	panic("not used by these tests")
}

func (m *memStore) LatestRegisteredVersions(_ context.Context, names []string) (map[string]int, error) {
	out := map[string]int{}
	for ref, d := range m.defs {
		for _, n := range names {
			if ref.Name == n && d.Status == FeatureRegistered && ref.Version > out[n] {
				out[n] = ref.Version
			}
		}
	}
	return out, nil
}

func (m *memStore) FeatureDefs(_ context.Context, refs []FeatureRef) (map[FeatureRef]FeatureDef, error) {
	out := map[FeatureRef]FeatureDef{}
	for _, r := range refs {
		if d, ok := m.defs[r]; ok {
			out[r] = d
		}
	}
	return out, nil
}

func (m *memStore) FeatureValues(_ context.Context, q FeatureQuery, perBar, global ValueFunc) error {
	for i, r := range q.PerBar {
		for _, p := range m.values[memKey{r, q.Symbol, string(q.Interval)}] {
			if !p.ts.Before(q.First) && !p.ts.After(q.Last) {
				perBar(i, p.ts, p.v)
			}
		}
	}
	for i, r := range q.Global {
		for _, p := range m.values[memKey{r, "", ""}] {
			if !p.ts.Before(q.GlobalFrom) && !p.ts.After(q.GlobalTo) {
				global(i, p.ts, p.v)
			}
		}
	}
	return nil
}

func (m *memStore) Snapshot(context.Context, string, []FeatureRef, FeatureQuery, ValueFunc, ValueFunc) (Signal, ModelRecord, []FeatureDef, error) {
	panic("not used by these tests")
}

func (m *memStore) LatestGlobalBefore(_ context.Context, refs []FeatureRef, since, before time.Time, fn ValueFunc) error {
	for i, r := range refs {
		pts := append([]memPoint(nil), m.values[memKey{r, "", ""}]...)
		sort.Slice(pts, func(a, b int) bool { return pts[a].ts.After(pts[b].ts) })
		for _, p := range pts {
			if !p.ts.Before(since) && p.ts.Before(before) {
				fn(i, p.ts, p.v)
				break
			}
		}
	}
	return nil
}

func (m *memStore) StreamTargets(context.Context) ([]Target, error) { return nil, nil }

func (m *memStore) LastSignalTS(_ context.Context, signalID, symbol string) (time.Time, bool, error) {
	t, ok := m.last[signalID+symbol]
	return t, ok, nil
}

func (m *memStore) TryLock(context.Context, string) (func(), bool, error) {
	return func() {}, true, nil
}

func (m *memStore) LockGroup(context.Context, []string, []string, string) ([]bool, []MemberState, func(), error) {
	panic("not used by these tests: the streaming groups are tested against PostgreSQL end to end")
}

func (m *memStore) Replicas(context.Context) (int, int, error) { return 0, 1, nil }

func (m *memStore) LeaveReplicas() {}

func (m *memStore) UpsertSignalRows(_ context.Context, rows []SignalRow, _ string) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.upserted = append(m.upserted, rows)
	return nil, nil
}

func (m *memStore) Ping(context.Context) error { return nil }

// The drift reads are exercised against PostgreSQL (cmd's end-to-end tests).
func (m *memStore) WindowValues(context.Context, []FeatureRef, string, string, time.Time, time.Time, ValueFunc) error {
	return nil
}

func (m *memStore) SignalValues(context.Context, string, string, time.Time, time.Time) ([]float64, error) {
	return nil, nil
}

// The audit's reads are exercised against PostgreSQL (cmd's end-to-end tests).
func (m *memStore) SignalHistory(context.Context, string, func(HistoryRow)) error { return nil }

func (m *memStore) ModelWindowsBySHA(context.Context, string) (ModelWindows, bool, error) {
	return ModelWindows{}, false, nil
}

// The realized-performance reads are exercised against PostgreSQL (cmd's end-to-end tests).
func (m *memStore) RealizedRows(context.Context, string, string, FeatureRef, string, time.Time, time.Time) ([]RealizedRow, error) {
	return nil, nil
}

func (m *memStore) LabelExists(context.Context, FeatureRef) (bool, error) { return false, nil }

var _ Store = (*memStore)(nil)

// echoModel predicts fixed outputs and records which path was called.
type echoModel struct {
	out             []float64 // per row
	single, batched int
}

func (e *echoModel) NumFeatures() int { return 1 }
func (e *echoModel) NumOutputs() int  { return len(e.out) }
func (e *echoModel) Close() error     { return nil }

func (e *echoModel) Predict(_ context.Context, row []float64, _ bool) ([]float64, error) {
	e.single++
	return append([]float64(nil), e.out...), nil
}

func (e *echoModel) PredictBatch(_ context.Context, rows []float64, _ bool) ([]float64, error) {
	e.batched++
	var out []float64
	for range rows {
		out = append(out, e.out...)
	}
	return out, nil
}

var nan = math.NaN()
