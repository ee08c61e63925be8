package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/storage"
)

func BenchmarkZZUpsertMany(b *testing.B) {
	dsn := "postgres://postgres@/play?host=/tmp/pgplay&port=5499"
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Config{DSN: dsn, MaxPool: 2, QueryTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	base := time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]inference.SignalRow, 17520)
	for i := range rows {
		rows[i] = inference.SignalRow{SignalID: "22222222-2222-2222-2222-222222222222", Symbol: "BTCUSDT", TS: base.Add(time.Duration(i) * time.Hour),
			Source: "historical_replay", Value: 0.5, ProducedAt: time.Now(), Meta: map[string]any{"model_id": "7f0e9e4e-5f43-4c1c-a7b5-4d9f2c1e8a11", "artifact_sha256": "975eaad3390ddef3fa9a7d3a41fb62e8ddf00fdec6901557f1686d98d3f1ee27", "spec_name": "demo", "objective": "binary", "model_status_at_inference": "live"}}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := st.UpsertSignalRows(ctx, rows, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
