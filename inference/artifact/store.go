package artifact

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/rfkih/blackheart-inference/inference"
)

// Store reads content-addressed artifacts from one directory:
// <Dir>/<sha[:2]>/<sha>.pkl. It implements inference.ArtifactSource and is
// safe for concurrent use.
type Store struct {
	Dir    string
	Limits PickleLimits
}

// Path returns where the artifact for sha lives, refusing anything that is
// not a 64-hex sha (so no path traversal is expressible).
func (a *Store) Path(sha string) (string, error) {
	if !inference.ValidSHA(sha) {
		return "", inference.Errorf(inference.CodeArtifactCorrupt, "artifact sha %q is not 64 lowercase hex digits", truncateForMessage(sha))
	}
	return filepath.Join(a.Dir, sha[:2], sha+".pkl"), nil
}

// ReadPayload reads, unpickles and decodes the artifact for sha, and checks
// the trainer's own integrity rule: the payload's content_sha256 equals the
// file name's sha. ctx bounds the read.
func (a *Store) ReadPayload(ctx context.Context, sha string) (*Decoded, string, int64, error) {
	path, err := a.Path(sha)
	if err != nil {
		return nil, "", 0, err
	}
	return a.readPayloadAt(ctx, path, sha)
}

// readPayloadAt is ReadPayload for the file at path, which claims to be sha.
func (a *Store) readPayloadAt(ctx context.Context, path, sha string) (*Decoded, string, int64, error) {
	data, err := readBounded(ctx, path, a.Limits.MaxBytes)
	if err != nil {
		if ctx.Err() != nil {
			return nil, path, 0, err // the caller's deadline or cancellation, as it is
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, path, 0, inference.Wrap(err, inference.CodeArtifactFileMissing, "artifact %s is not in the artifact directory", sha).
				WithHint("sync the artifact from the trainer host, or check INFERENCE_ARTIFACT_DIR")
		}
		return nil, path, 0, inference.Wrap(err, inference.CodeArtifactCorrupt, "artifact %s cannot be read: %v", sha, err)
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
		return p, path, int64(len(data)), inference.Errorf(inference.CodeArtifactCorrupt,
			"artifact %s says its content_sha256 is %s", sha, p.ContentSHA256).
			WithDetails(map[string]any{"filename_sha": sha, "payload_sha": p.ContentSHA256})
	}
	return p, path, int64(len(data)), nil
}

// Load reads the artifact for sha and verifies it completely: file name sha,
// recomputed content sha (D6) and the booster's feature names. ctx bounds
// the read.
func (a *Store) Load(ctx context.Context, sha string) (*inference.Artifact, error) {
	path, err := a.Path(sha)
	if err != nil {
		return nil, err
	}
	return a.loadAt(ctx, path, sha)
}

// loadAt is Load for the file at path, which claims to be sha: a download
// is verified this way before it is published under its name.
func (a *Store) loadAt(ctx context.Context, path, sha string) (*inference.Artifact, error) {
	p, path, size, err := a.readPayloadAt(ctx, path, sha)
	if err != nil {
		return nil, err
	}
	art := &inference.Artifact{SHA: sha, Path: path, Size: size, Payload: p.Payload, Content: inference.ContentNotApplicable,
		InputFeatures: p.FeatureNames, Vintage: inference.NewVintage(p.Payload)}
	if p.Booster == nil {
		if art.InputFeatures, err = inference.EnsembleInputs(p.Payload); err != nil {
			return nil, err
		}
		return art, nil
	}
	if art.ModelText, err = inference.ParseModelText(p.Booster.ModelText); err != nil {
		return nil, inference.Wrap(err, inference.CodeArtifactCorrupt, "artifact %s booster text: %v", sha, err)
	}
	if art.Content, err = verifyContent(p, art.ModelText); err != nil {
		return nil, err
	}
	if art.InputFeatures, err = inference.BoosterInputs(p.Payload, art.ModelText); err != nil {
		return nil, err
	}
	return art, nil
}

var _ inference.ArtifactSource = (*Store)(nil)
