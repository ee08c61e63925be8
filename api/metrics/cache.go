package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rfkih/blackheart-inference/inference"
)

// cacheSeries are the model cache's bytes against its budget and its
// working set (the models of the signals this replica serves).
type cacheSeries struct {
	bytes, budget                             prometheus.Gauge
	wsModels, wsHeld, wsBytes, wsOver, wsFail prometheus.Gauge
}

func newCacheSeries(f factory) cacheSeries {
	return cacheSeries{
		bytes:    f.gauge("model_cache_bytes", "Memory the loaded models hold, each measured when it loaded (native heap and Go memory)."),
		budget:   f.gauge("model_cache_budget_bytes", "INFERENCE_MODEL_CACHE_BYTES: the most the cache holds."),
		wsModels: f.gauge("model_working_set_models", "Models of the active and shadow signals this replica serves (its share under the replicas' split)."),
		wsHeld:   f.gauge("model_working_set_held_models", "Working-set models loaded and held."),
		wsBytes:  f.gauge("model_working_set_bytes", "The working set's measured bytes."),
		wsOver: f.gauge("model_working_set_over_budget_models",
			"Working-set models that do not fit INFERENCE_MODEL_CACHE_BYTES: each loads at every use (raise the budget or add replicas)."),
		wsFail: f.gauge("model_working_set_failed_models", "Working-set models whose last load failed."),
	}
}

func (c cacheSeries) set(st inference.CacheStats) {
	c.bytes.Set(float64(st.Bytes))
	c.budget.Set(float64(st.Budget))
	c.wsModels.Set(float64(st.WorkingSet))
	c.wsHeld.Set(float64(st.WorkingSetHeld))
	c.wsBytes.Set(float64(st.WorkingSetBytes))
	c.wsOver.Set(float64(st.OverBudget))
	c.wsFail.Set(float64(st.Failed))
}
