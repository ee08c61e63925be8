package storage

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rfkih/blackheart-inference/inference"
)

// SignalHistory streams the signal's signal_history rows for an audit: the
// bar, the sha the row's meta names (ours write artifact_sha256, the
// trainer's oof_backfill artifact_content_sha256) and meta.source_run.
func (s *Store) SignalHistory(ctx context.Context, signalID string, fn func(inference.HistoryRow)) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `
		SELECT symbol, ts, COALESCE(meta->>'artifact_sha256', meta->>'artifact_content_sha256', ''), COALESCE(meta->>'source_run', '')
		FROM signal_history WHERE signal_id = $1::uuid ORDER BY symbol, ts`, signalID)
	if err == nil {
		var r inference.HistoryRow
		_, err = pgx.ForEachRow(rows, []any{&r.Symbol, &r.TS, &r.SHA, &r.SourceRun}, func() error {
			r.TS = r.TS.UTC()
			fn(r)
			return nil
		})
	}
	return translate(ctx, err, "read signal_history")
}

// ModelWindowsBySHA reads the windows of the model_registry row whose
// artifact_sha256 is sha (a unique column).
func (s *Store) ModelWindowsBySHA(ctx context.Context, sha string) (inference.ModelWindows, bool, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	var b [6]*time.Time
	err := s.pool.QueryRow(ctx, `SELECT `+windowBounds+` FROM model_registry WHERE artifact_sha256 = $1`, sha).
		Scan(&b[0], &b[1], &b[2], &b[3], &b[4], &b[5])
	if errors.Is(err, pgx.ErrNoRows) {
		return inference.ModelWindows{}, false, nil
	}
	if err != nil {
		return inference.ModelWindows{}, false, translate(ctx, err, "read model_registry windows")
	}
	return modelWindows(b), true, nil
}
