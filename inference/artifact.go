package inference

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// ContentCheck is the outcome of recomputing content_sha256 (decision D6).
type ContentCheck string

// ContentCheck values.
const (
	ContentMatch         ContentCheck = "match"
	ContentMismatch      ContentCheck = "mismatch"
	ContentNotApplicable ContentCheck = "not_applicable" // ensembles: the XGBoost part cannot be re-serialised outside Python
)

// Artifact is a verified, loaded artifact.
type Artifact struct {
	SHA     string
	Path    string
	Size    int64
	Payload *Payload
	Content ContentCheck
	// InputFeatures is the model's input column order: the booster's own
	// feature_names, checked against the payload (CONTRACT §5.7).
	InputFeatures []string
	// ModelText is the parsed booster text (nil for ensembles).
	ModelText *ModelText
}

// Artifacts reads content-addressed artifacts from one directory:
// <Dir>/<sha[:2]>/<sha>.pkl. It is safe for concurrent use.
type Artifacts struct {
	Dir    string
	Limits PickleLimits
}

// Path returns where the artifact for sha lives, refusing anything that is
// not a 64-hex sha (so no path traversal is expressible).
func (a *Artifacts) Path(sha string) (string, error) {
	if !ValidSHA(sha) {
		return "", Errorf(CodeArtifactCorrupt, "artifact sha %q is not 64 lowercase hex digits", truncateForMessage(sha))
	}
	return filepath.Join(a.Dir, sha[:2], sha+".pkl"), nil
}

// ReadPayload reads, unpickles and decodes the artifact for sha, and checks
// the trainer's own integrity rule: the payload's content_sha256 equals the
// file name's sha. ctx bounds the read.
func (a *Artifacts) ReadPayload(ctx context.Context, sha string) (*Payload, string, int64, error) {
	path, err := a.Path(sha)
	if err != nil {
		return nil, "", 0, err
	}
	data, err := readBounded(ctx, path, a.Limits.MaxBytes)
	if err != nil {
		if ctx.Err() != nil {
			return nil, path, 0, err // the caller's deadline or cancellation, as it is
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, path, 0, Wrap(err, CodeArtifactFileMissing, "artifact %s is not in the artifact directory", sha).
				WithHint("sync the artifact from the trainer host, or check INFERENCE_ARTIFACT_DIR")
		}
		return nil, path, 0, Wrap(err, CodeArtifactCorrupt, "artifact %s cannot be read: %v", sha, err)
	}
	v, err := Unpickle(data, a.Limits)
	if err != nil {
		return nil, path, int64(len(data)), err
	}
	p, err := DecodePayload(v)
	if err != nil {
		return nil, path, int64(len(data)), err
	}
	if p.ContentSHA256 != sha {
		return p, path, int64(len(data)), Errorf(CodeArtifactCorrupt,
			"artifact %s says its content_sha256 is %s", sha, p.ContentSHA256).
			WithDetails(map[string]any{"filename_sha": sha, "payload_sha": p.ContentSHA256})
	}
	return p, path, int64(len(data)), nil
}

// Load reads the artifact for sha and verifies it completely: file name sha,
// recomputed content sha (D6) and the booster's feature names. ctx bounds
// the read.
func (a *Artifacts) Load(ctx context.Context, sha string) (*Artifact, error) {
	p, path, size, err := a.ReadPayload(ctx, sha)
	if err != nil {
		return nil, err
	}
	art := &Artifact{SHA: sha, Path: path, Size: size, Payload: p, Content: ContentNotApplicable, InputFeatures: p.FeatureNames}
	if p.Booster == nil {
		if art.InputFeatures, err = ensembleInputs(p); err != nil {
			return nil, err
		}
		return art, nil
	}
	if art.ModelText, err = ParseModelText(p.Booster.ModelText); err != nil {
		return nil, Wrap(err, CodeArtifactCorrupt, "artifact %s booster text: %v", sha, err)
	}
	if art.Content, err = verifyContent(p, art.ModelText); err != nil {
		return nil, err
	}
	if art.InputFeatures, err = boosterInputs(p, art.ModelText); err != nil {
		return nil, err
	}
	return art, nil
}

// readBounded reads a whole artifact file of at most limit bytes. Only a
// regular file is read, and its size is checked before a byte is: a FIFO
// would block open and read forever, a device (a link to /dev/zero) never
// ends. The open never blocks (O_NONBLOCK, then the opened file is checked
// again, so a swap after the first check is caught too), and the read runs
// apart from the caller, who stops waiting when ctx ends — a stalled file
// system cannot hold a request past its deadline.
func readBounded(ctx context.Context, path string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading artifact %s: %w", filepath.Base(path), err)
	}
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if err := checkRegular(st, limit); err != nil {
		return nil, err
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := readRegular(path, limit)
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("reading artifact %s: %w", filepath.Base(path), ctx.Err())
	}
}

func readRegular(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkRegular(st, limit); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("file is larger than the %d-byte limit", limit)
	}
	return data, nil
}

func checkRegular(st fs.FileInfo, limit int64) error {
	if !st.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	if st.Size() > limit {
		return fmt.Errorf("file is %d bytes, larger than the %d-byte limit", st.Size(), limit)
	}
	return nil
}

// VerifyContent recomputes content_sha256 from the payload's content fields
// exactly as blackheart-train does (CONTRACT §2) and compares it with the
// stored one. A mismatch is artifact_corrupt: the model inside was edited.
func VerifyContent(p *Payload) (ContentCheck, error) {
	if p.Booster == nil {
		return ContentNotApplicable, nil
	}
	mt, err := ParseModelText(p.Booster.ModelText)
	if err != nil {
		return "", Wrap(err, CodeArtifactCorrupt, "content_sha256 cannot be recomputed: %v", err)
	}
	return verifyContent(p, mt)
}

// verifyContent compares the stored sha with the one recomputed from mt,
// the payload's parsed booster text.
func verifyContent(p *Payload, mt *ModelText) (ContentCheck, error) {
	sum, err := recomputeContentSHA(p, mt)
	if err != nil {
		return "", Wrap(err, CodeArtifactCorrupt, "content_sha256 cannot be recomputed: %v", err)
	}
	if sum != p.ContentSHA256 {
		return ContentMismatch, Errorf(CodeArtifactCorrupt,
			"artifact content does not hash to its content_sha256 (recomputed %s): the model or spec was modified", sum).
			WithDetails(map[string]any{"content_sha": string(ContentMismatch), "recomputed_sha": sum, "payload_sha": p.ContentSHA256})
	}
	return ContentMatch, nil
}

// recomputeContentSHA hashes the content fields of a single-booster payload.
func recomputeContentSHA(p *Payload, mt *ModelText) (string, error) {
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
	canonical, err := PyJSON(content)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(canonical))
	return hex.EncodeToString(sum[:]), nil
}

// boosterInputs returns the model's input column order: the booster's own
// feature_names line. It must equal payload.feature_names, or, for a
// walk-forward model trained with feature selection, the last fold's
// features_selected.
func boosterInputs(p *Payload, mt *ModelText) ([]string, error) {
	if slices.Equal(mt.FeatureNames, p.FeatureNames) {
		return mt.FeatureNames, nil
	}
	if p.Spec.FeatureSelectionEnabled && len(p.LastFoldFeatures) > 0 && slices.Equal(mt.FeatureNames, p.LastFoldFeatures) {
		return mt.FeatureNames, nil
	}
	return nil, Errorf(CodeArtifactCorrupt,
		"booster feature_names (%d) do not match payload feature_names (%d)", len(mt.FeatureNames), len(p.FeatureNames)).
		WithDetails(map[string]any{"booster_feature_names": mt.FeatureNames, "payload_feature_names": p.FeatureNames})
}

// ensembleInputs is an ensemble's input column order. A walk-forward
// ensemble trained with feature selection was fit, every member alike, on
// the last fold that ran's features_selected, in the selection's own order
// (with stacked intervals interval_indicator comes first there, last in
// payload.feature_names); any other ensemble on payload.feature_names. Each
// member's own names are checked against it when the model opens.
func ensembleInputs(p *Payload) ([]string, error) {
	if !p.Spec.FeatureSelectionEnabled || len(p.LastFoldFeatures) == 0 {
		return p.FeatureNames, nil
	}
	for _, f := range p.LastFoldFeatures {
		if !slices.Contains(p.FeatureNames, f) {
			return nil, Errorf(CodeArtifactCorrupt, "walk-forward features_selected names %q, which payload feature_names lacks", f).
				WithDetails(map[string]any{"features_selected": p.LastFoldFeatures, "payload_feature_names": p.FeatureNames})
		}
	}
	return p.LastFoldFeatures, nil
}
