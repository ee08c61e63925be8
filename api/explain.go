package api

import (
	"context"
	"math"
	"net/http"

	"github.com/rfkih/blackheart-inference/inference"
)

// additivityRule is what every explain response states about its numbers.
const additivityRule = "In each explanation, bias + the sum of its contributions equals raw_score in its space, " +
	"up to floating-point rounding: additivity_error = |bias + sum - raw_score| / max(1, |raw_score|) <= tolerance. " +
	"A booster is explained in its raw margin, per class for multiclass. An ensemble's prediction is the mean of its " +
	"members' probabilities, which has no additive decomposition: each member is explained in its own space " +
	"(boosters: raw margin; logistic: logit) with its weight in the mean, and no contribution to the mean is claimed."

type explainResponse struct {
	runResponse
	Written      bool                 `json:"written"`
	Explanations []explanationSetWire `json:"explanations"`
	Additivity   string               `json:"additivity"`
}

type explanationSetWire struct {
	Member          *string            `json:"member"`
	Weight          float64            `json:"weight"`
	Class           *int               `json:"class"`
	Space           string             `json:"space"`
	Bias            float64            `json:"bias"`
	RawScore        float64            `json:"raw_score"`
	AdditivityError float64            `json:"additivity_error"`
	Tolerance       float64            `json:"tolerance"`
	Contributions   []contributionWire `json:"contributions"`
}

type contributionWire struct {
	Feature      string   `json:"feature"`
	Value        *float64 `json:"value"` // the input; null when not finite
	Contribution float64  `json:"contribution"`
}

func toExplainResponse(r *inference.ExplainResult) explainResponse {
	out := explainResponse{runResponse: toRunResponse(&r.Prediction), Additivity: additivityRule,
		Explanations: make([]explanationSetWire, len(r.Sets))}
	for i, set := range r.Sets {
		e := explanationSetWire{Weight: set.Weight, Space: set.Space, Bias: set.Bias, RawScore: set.Raw,
			AdditivityError: set.AdditivityError(), Tolerance: set.Tolerance}
		if set.Member != "" {
			m := set.Member
			e.Member = &m
		}
		if set.Class >= 0 {
			c := set.Class
			e.Class = &c
		}
		for _, j := range set.Ranked() {
			c := contributionWire{Feature: r.Inputs[j], Contribution: set.Values[j]}
			if v := r.Values[j]; !math.IsNaN(v) && !math.IsInf(v, 0) {
				c.Value = &v
			}
			e.Contributions = append(e.Contributions, c)
		}
		out.Explanations[i] = e
	}
	return out
}

// explain is POST /inference/explain: run's body, run's resolution and
// refusals, nothing written.
func (s *Server) explain(w http.ResponseWriter, r *http.Request) error {
	return s.postRun(w, r, func(ctx context.Context, req inference.RunRequest) (any, int, error) {
		res, err := s.svc.Explain(ctx, req)
		if err != nil {
			return nil, 0, err
		}
		return toExplainResponse(res), 0, nil
	})
}
