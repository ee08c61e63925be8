package storage

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rfkih/blackheart-inference/inference"
)

// StreamTargets lists active and shadow signals with their model's symbol
// and serving interval (serving_interval, else interval).
func (s *Store) StreamTargets(ctx context.Context) ([]inference.Target, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `
		SELECT d.signal_id::text, d.name, COALESCE(d.status, 'active'), m.id::text, COALESCE(m.artifact_sha256, ''), m.symbol,
		       COALESCE(NULLIF(m.serving_interval, ''), m.interval, ''), h.last_ts
		FROM signal_definition d JOIN model_registry m ON m.id = d.model_id
		CROSS JOIN LATERAL (SELECT max(ts) AS last_ts FROM signal_history
		                    WHERE signal_id = d.signal_id AND symbol = m.symbol) h
		WHERE COALESCE(d.status, 'active') IN ('active', 'shadow')
		ORDER BY d.name, d.signal_id`)
	if err != nil {
		return nil, translate(ctx, err, "list streaming targets")
	}
	var out []inference.Target
	var tg inference.Target
	var last *time.Time
	_, err = pgx.ForEachRow(rows, []any{&tg.SignalID, &tg.Name, &tg.Status, &tg.ModelID, &tg.ArtifactSHA, &tg.Symbol, &tg.Interval, &last}, func() error {
		t := tg
		if last != nil {
			l := last.UTC()
			t.LastTS = &l
		}
		out = append(out, t)
		return nil
	})
	return out, translate(ctx, err, "list streaming targets")
}

// LastSignalTS is the newest signal_history ts for the signal and symbol
// (an index-only descent of the primary key).
func (s *Store) LastSignalTS(ctx context.Context, signalID, symbol string) (time.Time, bool, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var ts *time.Time
	err := s.pool.QueryRow(ctx, `SELECT max(ts) FROM signal_history WHERE signal_id = $1::uuid AND symbol = $2`,
		signalID, symbol).Scan(&ts)
	if err != nil {
		return time.Time{}, false, translate(ctx, err, "read signal_history")
	}
	if ts == nil {
		return time.Time{}, false, nil
	}
	return ts.UTC(), true, nil
}

// TryLock takes a session-level advisory lock on a dedicated connection, so
// a crashed holder's lock goes away with its session.
func (s *Store) TryLock(ctx context.Context, key string) (func(), bool, error) {
	lctx, cancel := s.timeout(ctx)
	defer cancel()
	conn, err := s.pool.Acquire(lctx)
	if err != nil {
		return nil, false, translate(lctx, err, "acquire lock connection")
	}
	var ok bool
	if err := conn.QueryRow(lctx, `SELECT pg_try_advisory_lock(hashtext('blackheart-inference'), hashtext($1))`, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, translate(lctx, err, "advisory lock")
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() { unlockOn(conn, []string{key}) }, true, nil
}

// unlockOn releases the session locks of keys (TryLock's hashing) held on
// conn and returns conn to the pool.
func unlockOn(conn *pgxpool.Conn, keys []string) {
	if len(keys) == 0 {
		conn.Release()
		return
	}
	releaseLocks(conn, `SELECT pg_advisory_unlock(hashtext('blackheart-inference'), hashtext(k))
		FROM unnest($1::text[]) AS k`, keys)
}

// releaseLocks runs unlockSQL on conn and returns conn to the pool. Session
// locks cannot be left behind on a pooled session: when the unlock fails,
// the session is closed, which drops them.
func releaseLocks(conn *pgxpool.Conn, unlockSQL string, args ...any) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, unlockSQL, args...); err != nil {
		_ = conn.Conn().Close(ctx)
	}
	conn.Release()
}

// LockGroup takes what locks it can among keys on one dedicated
// connection and reads the members' states, in one round trip: the second
// statement's snapshot is taken after the first has taken the locks (READ
// COMMITTED), so it sees every write another holder committed before
// releasing one of them. The locks are session-level, like TryLock's and
// with the same key hashing, so replicas running either path exclude each
// other; a failed round trip closes the session, which drops whatever it held.
func (s *Store) LockGroup(ctx context.Context, keys, signalIDs []string, symbol string) ([]bool, []inference.MemberState, func(), error) {
	lctx, cancel := s.timeout(ctx)
	defer cancel()
	conn, err := s.pool.Acquire(lctx)
	if err != nil {
		return nil, nil, nil, translate(lctx, err, "acquire lock connection")
	}
	held := make([]bool, len(keys))
	states := make([]inference.MemberState, len(signalIDs))
	b := &pgx.Batch{}
	b.Queue(`SELECT k.i::int - 1, pg_try_advisory_lock(hashtext('blackheart-inference'), hashtext(k.key))
		FROM unnest($1::text[]) WITH ORDINALITY AS k(key, i)`, keys).Query(func(rows pgx.Rows) error {
		var i int
		var ok bool
		_, err := pgx.ForEachRow(rows, []any{&i, &ok}, func() error { held[i] = ok; return nil })
		return err
	})
	b.Queue(`SELECT g.i::int - 1, d.signal_id IS NOT NULL, COALESCE(d.status, 'active'), COALESCE(d.model_id::text, ''), h.last_ts
		FROM unnest($1::uuid[]) WITH ORDINALITY AS g(id, i)
		LEFT JOIN signal_definition d ON d.signal_id = g.id
		CROSS JOIN LATERAL (SELECT max(ts) AS last_ts FROM signal_history WHERE signal_id = g.id AND symbol = $2) h`,
		signalIDs, symbol).Query(func(rows pgx.Rows) error {
		var i int
		var st inference.MemberState
		var last *time.Time
		_, err := pgx.ForEachRow(rows, []any{&i, &st.Found, &st.Status, &st.ModelID, &last}, func() error {
			if last != nil {
				l := last.UTC()
				st.LastTS = &l
			}
			states[i], st.LastTS = st, nil
			return nil
		})
		return err
	})
	if err := conn.SendBatch(lctx, b).Close(); err != nil {
		_ = conn.Conn().Close(context.Background()) // drops any lock the batch took
		conn.Release()
		return nil, nil, nil, translate(lctx, err, "lock and read a streaming group")
	}
	var locked []string
	for i, ok := range held {
		if ok {
			locked = append(locked, keys[i])
		}
	}
	return held, states, func() { unlockOn(conn, locked) }, nil
}

// ActiveArtifacts lists the artifact shas of every active or shadow
// signal's model: what a replica must be able to serve.
func (s *Store) ActiveArtifacts(ctx context.Context) ([]string, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT m.artifact_sha256 FROM signal_definition d JOIN model_registry m ON m.id = d.model_id
		WHERE COALESCE(d.status, 'active') IN ('active', 'shadow') AND COALESCE(m.artifact_sha256, '') <> ''
		ORDER BY 1`)
	if err != nil {
		return nil, translate(ctx, err, "list active artifacts")
	}
	shas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return shas, translate(ctx, err, "list active artifacts")
}

// Replica slots: each streaming replica holds one session-level advisory
// lock (replicaSlotClass, slot) on a connection it keeps, so the replicas
// alive are the slots held, visible to each in pg_locks; a replica that dies
// loses its slot with its session. The class is a constant, not a hash, so
// that pg_locks can be filtered on it as stored (an oid).
const (
	replicaSlotClass = 0x42484946 // "BHIF"
	replicaSlots     = 64
)

type replicaSlot struct {
	mu   sync.Mutex
	conn *pgxpool.Conn
	id   int
}

// Replicas returns this replica's rank among the streaming replicas alive
// and their number, taking a slot first if it holds none (again after its
// session was lost). With every slot taken it answers rank 0 of 1: it works
// as if alone, which only costs the sharing.
func (s *Store) Replicas(ctx context.Context) (int, int, error) {
	s.slot.mu.Lock()
	defer s.slot.mu.Unlock()
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if s.slot.conn == nil {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return 0, 1, translate(ctx, err, "acquire the replica slot's connection")
		}
		var id *int
		err = conn.QueryRow(ctx, `SELECT min(i) FROM (SELECT i FROM generate_series(0, $1 - 1) AS i
			WHERE pg_try_advisory_lock($2, i) LIMIT 1) free`, replicaSlots, replicaSlotClass).Scan(&id)
		switch {
		case err != nil:
			conn.Release()
			return 0, 1, translate(ctx, err, "take a replica slot")
		case id == nil:
			conn.Release()
			return 0, 1, nil
		}
		s.slot.conn, s.slot.id = conn, *id
	}
	rows, err := s.slot.conn.Query(ctx, `SELECT objid::int FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1::int::oid AND objsubid = 2 AND granted
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY 1`, replicaSlotClass)
	var slots []int
	if err == nil {
		slots, err = pgx.CollectRows(rows, pgx.RowTo[int])
	}
	if err != nil {
		s.slot.conn.Conn().Close(context.Background()) // its slot goes with the session
		s.slot.conn.Release()
		s.slot.conn = nil
		return 0, 1, translate(ctx, err, "list the replica slots")
	}
	for rank, id := range slots {
		if id == s.slot.id {
			return rank, len(slots), nil
		}
	}
	return 0, 1, nil // not listed: cannot happen while the session lives
}

// LeaveReplicas gives up this replica's slot (the worker stopped); the
// next Replicas takes one again.
func (s *Store) LeaveReplicas() { s.slot.release() }

// release unlocks the slot before the connection goes back to the pool, so
// that the other replicas see it gone at once (closing the session would
// drop it too, but only once its backend has exited).
func (r *replicaSlot) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return
	}
	releaseLocks(r.conn, `SELECT pg_advisory_unlock($1, $2)`, replicaSlotClass, r.id)
	r.conn = nil
}
