package artifact

import (
	"github.com/rfkih/blackheart-inference/inference"
)

// VerifyContent recomputes content_sha256 from the payload's content fields
// exactly as blackheart-train does (CONTRACT §2) and compares it with the
// stored one. A mismatch is artifact_corrupt: the model inside was edited.
func VerifyContent(p *Decoded) (inference.ContentCheck, error) {
	if p.Booster == nil {
		return inference.ContentNotApplicable, nil
	}
	mt, err := inference.ParseModelText(p.Booster.ModelText)
	if err != nil {
		return "", inference.Wrap(err, inference.CodeArtifactCorrupt, "content_sha256 cannot be recomputed: %v", err)
	}
	return verifyContent(p, mt)
}

// verifyContent compares the stored sha with the one recomputed from mt,
// the payload's parsed booster text.
func verifyContent(p *Decoded, mt *inference.ModelText) (inference.ContentCheck, error) {
	sum, err := recomputeContentSHA(p, mt)
	if err != nil {
		return "", inference.Wrap(err, inference.CodeArtifactCorrupt, "content_sha256 cannot be recomputed: %v", err)
	}
	if sum != p.ContentSHA256 {
		return inference.ContentMismatch, inference.Errorf(inference.CodeArtifactCorrupt,
			"artifact content does not hash to its content_sha256 (recomputed %s): the model or spec was modified", sum).
			WithDetails(map[string]any{"content_sha": string(inference.ContentMismatch), "recomputed_sha": sum, "payload_sha": p.ContentSHA256})
	}
	return inference.ContentMatch, nil
}

// recomputeContentSHA hashes the content fields of a single-booster payload.
func recomputeContentSHA(p *Decoded, mt *inference.ModelText) (string, error) {
	// The trainer hashed model_to_string(), which honours best_iteration;
	// the pickle holds every tree.
	modelStr, err := mt.Truncated(p.Booster.BestIteration)
	if err != nil {
		return "", err
	}
	content := PyJSONObject{
		{"spec", p.rawSpec},
		{"feature_names", p.FeatureNames},
		{"objective", p.Objective},
		{"label_feature", p.LabelFeature},
		{"label_version", p.LabelVersion},
		{"booster_model_str", modelStr},
	}
	return PyJSONSHA256(content)
}
