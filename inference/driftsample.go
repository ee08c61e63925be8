package inference

import (
	"context"
	"sync"
	"time"
)

// driftChunkBars and driftReaders shape a drift computation's reads: each
// window is read in chunks of at most driftChunkBars bars, up to
// driftReaders chunks at a time, each on its own connection. The reads are
// PostgreSQL's work; in parallel a computation takes about its share of the
// database's cores instead of the sum of its queries. The scheduled passes
// run on a pool of INFERENCE_DRIFT_DB_POOL connections, which bounds them
// further.
const (
	driftChunkBars = 1024
	driftReaders   = 3
)

// driftSample is one window's input vectors: the bars whose every input was
// present and their rows, exactly as the model would receive them.
type driftSample struct {
	window DriftWindow
	bars   []time.Time
	rows   []float64 // len(bars) × columns, row-major
	width  int
}

// column is column c's value at every ready bar.
func (d *driftSample) column(c int) []float64 {
	out := make([]float64, len(d.bars))
	for i := range d.bars {
		out[i] = d.rows[i*d.width+c]
	}
	return out
}

// driftChunk is one read: consecutive bars of one window.
type driftChunk struct {
	sample *driftSample
	bars   []time.Time
	a      *assembled
	err    error
}

// newDriftSample lays out a window's bars (its most recent maxDriftBars at
// most) and splits them into chunks to read.
func (s *Service) newDriftSample(r *resolved, source string, rng TimeRange) (*driftSample, []*driftChunk) {
	d := &driftSample{window: DriftWindow{Source: source, TimeRange: rng}, width: len(r.plan.columns)}
	interval := r.model.Serving()
	n := interval.BarCount(rng.From, rng.To)
	if source == WindowNone || n == 0 {
		return d, nil
	}
	first, step := interval.GridStart(rng.From), interval.Duration()
	if n > maxDriftBars {
		first, n, d.window.Truncated = first.Add(time.Duration(n-maxDriftBars)*step), maxDriftBars, true
	}
	d.window.Bars = n
	var chunks []*driftChunk
	for done := 0; done < n; done += driftChunkBars {
		c := &driftChunk{sample: d, bars: make([]time.Time, min(driftChunkBars, n-done))}
		for i := range c.bars {
			c.bars[i] = first.Add(time.Duration(done+i) * step)
		}
		chunks = append(chunks, c)
	}
	return d, chunks
}

// readDriftChunks assembles every chunk as backfill does (set-based
// queries, the training-time rule), driftReaders at a time, then gathers
// each sample's ready bars in window order.
func (s *Service) readDriftChunks(ctx context.Context, r *resolved, chunks []*driftChunk) error {
	jobs := make(chan *driftChunk)
	var wg sync.WaitGroup
	for range min(driftReaders, len(chunks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				c.a, c.err = r.plan.assemble(ctx, s.store, r.model.Symbol, r.model.Serving(), c.bars)
			}
		}()
	}
	for _, c := range chunks {
		jobs <- c
	}
	close(jobs)
	wg.Wait()
	for _, c := range chunks {
		if c.err != nil {
			return c.err
		}
		d := c.sample
		for i, bar := range c.bars {
			if c.a.ready(i) {
				d.bars = append(d.bars, bar)
				d.rows = append(d.rows, c.a.rows[i*d.width:(i+1)*d.width]...)
			}
		}
		d.window.Vectors = len(d.bars)
	}
	return nil
}
