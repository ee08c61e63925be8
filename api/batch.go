package api

import (
	"context"
	"net/http"

	"github.com/rfkih/blackheart-inference/inference"
)

type batchRequest struct {
	ComputeRunID *string `json:"compute_run_id"`
}

type batchResponse struct {
	Status           string   `json:"status"`
	SignalsProcessed int      `json:"signals_processed"`
	RowsWritten      int      `json:"rows_written"`
	RowsFailed       []string `json:"rows_failed"`
	SignalsDeferred  []string `json:"signals_deferred"`
	CompletedAt      string   `json:"completed_at"`
}

func (s *Server) batchPredict(w http.ResponseWriter, r *http.Request) error {
	var body batchRequest
	return s.postJSON(w, r, &body, s.cfg.BackfillTimeout, func(ctx context.Context, ag string) (any, int, error) {
		var v validation
		id := requireString(&v, "compute_run_id", body.ComputeRunID)
		if body.ComputeRunID != nil && !computeRunPattern.MatchString(id) {
			v.add("compute_run_id", "must be 1-128 printable ASCII characters")
		}
		if err := v.err(); err != nil {
			return nil, 0, err
		}
		res, err := s.svc.BatchPredict(ctx, inference.BatchRequest{ComputeRunID: id, Agent: ag})
		if err != nil {
			return nil, 0, err
		}
		return batchResponse{string(res.Status), res.SignalsProcessed, res.RowsWritten, res.RowsFailed, res.Deferred, formatTS(res.CompletedAt)}, res.RowsWritten, nil
	})
}
