package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/artifact"
	"github.com/rfkih/blackheart-inference/native"
)

// verifyLine is one artifact's result, one JSON line each.
type verifyLine struct {
	SHA            string `json:"sha"`
	OK             bool   `json:"ok"`
	ErrorCode      string `json:"error_code,omitempty"`
	Message        string `json:"message,omitempty"`
	PayloadVersion int    `json:"payload_version,omitempty"`
	Objective      string `json:"objective,omitempty"`
	Kind           string `json:"kind,omitempty"`
	NFeatures      int    `json:"n_features,omitempty"`
	ContentSHA     string `json:"content_sha,omitempty"`
	// CrossChecked: rows on which the native and pure-Go evaluators were
	// compared bit for bit (--cross-check).
	CrossChecked int `json:"cross_checked_rows,omitempty"`
}

func runVerify(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("artifact verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", "", "artifact directory (with --store: where downloads are cached; default a temporary one)")
	storeURL := fs.String("store", "", "object store URL (s3://bucket/prefix?…, gs://bucket/prefix)")
	crossCheck := fs.Bool("cross-check", false, "also predict sample rows drawn at the model's split thresholds with the native and the pure-Go evaluator, and fail on any difference in bits (cgo build)")
	crossRows := fs.Int("cross-check-rows", 10000, "rows per artifact for --cross-check")
	if err := fs.Parse(args); err != nil {
		return flagError(err, stdout, "artifact verify", fs)
	}
	load := loaders
	if *crossCheck {
		var err error
		if load, err = loadersFor("cross-check"); err != nil {
			return usageError{err.Error()}
		}
		if *crossRows <= 0 {
			return usageError{"--cross-check-rows must be positive"}
		}
	} else {
		*crossRows = 0
	}
	if *dir == "" && *storeURL == "" {
		return usageError{"--dir or --store is required"}
	}
	local, remote, cleanup, err := verifyStores(*dir, *storeURL)
	if err != nil {
		return err
	}
	defer cleanup()
	shas := fs.Args()
	if len(shas) == 0 {
		if shas, err = listShas(ctx, local.Dir, remote); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(stdout)
	failed := 0
	for _, sha := range shas {
		if err := ctx.Err(); err != nil {
			return err
		}
		line := verifyLine{SHA: sha}
		if remote != nil {
			line = fetchLine(ctx, remote, sha) // download and verify into the cache first
		}
		if line.ErrorCode == "" {
			line = verifyOne(ctx, local, sha, load, *crossRows)
		}
		if !line.OK {
			failed++
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	if failed > 0 {
		return errReported
	}
	return nil
}

// verifyStores opens where --store and --dir point: a directory (no store,
// or a file:// store, which is itself a directory), or an object store cached
// in dir (a temporary directory, removed by cleanup, when dir is empty).
func verifyStores(dir, storeURL string) (*artifact.Store, *artifact.CachedStore, func(), error) {
	cleanup := func() {}
	src, cached, err := artifactSource(inference.Config{ArtifactStore: storeURL, ArtifactDir: dir})
	if err != nil {
		return nil, nil, nil, err
	}
	if cached == nil { // no store, or file://: the artifacts are read where they are
		local := src.(*artifact.Store)
		if local.Dir == "" {
			return nil, nil, nil, usageError{"a file:// store names its directory (file:///srv/artifacts)"}
		}
		if dir != "" && filepath.Clean(dir) != filepath.Clean(local.Dir) {
			return nil, nil, nil, usageError{"--dir is an object store's download cache; a file:// store is read in place, so give one or the other"}
		}
		return local, nil, cleanup, nil
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "blackheart-verify-")
		if err != nil {
			return nil, nil, nil, err
		}
		cached.Cache.Dir, cleanup = tmp, func() { os.RemoveAll(tmp) }
	}
	return cached.Cache, cached, cleanup, nil
}

// listShas lists the artifacts of the store, or of the directory.
func listShas(ctx context.Context, dir string, remote *artifact.CachedStore) ([]string, error) {
	if remote == nil {
		return listArtifacts(dir)
	}
	lister, ok := remote.Remote.(interface {
		List(context.Context) ([]string, error)
	})
	if !ok {
		return nil, usageError{"this store cannot list its artifacts: name the SHAs"}
	}
	return lister.List(ctx)
}

// fetchLine downloads and verifies sha into the cache (nothing when it is
// already there); a failure is reported as verify reports it.
func fetchLine(ctx context.Context, remote *artifact.CachedStore, sha string) verifyLine {
	line := verifyLine{SHA: sha}
	if _, err := remote.Load(ctx, sha); err != nil {
		line.ErrorCode, line.Message = string(inference.ErrorCode(err)), inference.SafeMessage(err)
	}
	return line
}

// verifyOne runs every check the service would run before serving sha,
// including loading the model into the native library.
func verifyOne(ctx context.Context, store *artifact.Store, sha string, load inference.Loaders, crossRows int) verifyLine {
	line := verifyLine{SHA: sha}
	fail := func(err error) verifyLine {
		line.OK = false
		line.ErrorCode, line.Message = string(inference.ErrorCode(err)), inference.SafeMessage(err)
		return line
	}
	p, _, _, err := store.ReadPayload(ctx, sha)
	if p != nil {
		line.PayloadVersion, line.Objective, line.Kind, line.NFeatures = p.Version, p.Objective, p.Kind(), len(p.FeatureNames)
	}
	if err != nil {
		return fail(err)
	}
	check, err := artifact.VerifyContent(p)
	line.ContentSHA = string(check)
	if err != nil {
		return fail(err)
	}
	art, err := store.Load(ctx, sha)
	if err != nil {
		return fail(err)
	}
	line.NFeatures = len(art.InputFeatures)
	m, err := inference.OpenModel(art, load)
	if err != nil {
		return fail(err)
	}
	defer m.Close()
	if crossRows > 0 {
		// Raw scores too where the model offers them (LightGBM boosters).
		rows := native.SampleRows(art, crossRows, 1)
		for _, raw := range []bool{false, art.Payload.Ensemble == nil} {
			if _, err := m.PredictBatch(ctx, rows, raw); err != nil {
				return fail(err)
			}
		}
		line.CrossChecked = crossRows
	}
	line.OK = true
	return line
}

// listArtifacts finds <dir>/<xx>/<sha>.pkl files, sorted.
func listArtifacts(dir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*", "*.pkl"))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	var shas []string
	for _, m := range matches {
		shas = append(shas, strings.TrimSuffix(filepath.Base(m), ".pkl"))
	}
	sort.Strings(shas)
	return shas, nil
}
