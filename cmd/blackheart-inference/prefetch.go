package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/storage"
)

// prefetchLine is one artifact's result.
type prefetchLine struct {
	SHA        string `json:"sha"`
	OK         bool   `json:"ok"`
	Downloaded bool   `json:"downloaded"`
	ErrorCode  string `json:"error_code,omitempty"`
	Message    string `json:"message,omitempty"`
}

// runPrefetch downloads and verifies, into the cache directory, every
// artifact an active or shadow signal references (read from
// INFERENCE_DB_DSN): a warm start for a new replica.
func runPrefetch(ctx context.Context, args []string, environ map[string]string, stdout io.Writer) error {
	fs := flag.NewFlagSet("artifact prefetch", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, err := parseConfig(environ)
	if err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	storeURL := fs.String("store", cfg.Inference.ArtifactStore, "object store URL (default INFERENCE_ARTIFACT_STORE)")
	dir := fs.String("dir", cfg.Inference.ArtifactDir, "cache directory (default INFERENCE_ARTIFACT_DIR)")
	if err := fs.Parse(args); err != nil {
		return flagError(err, stdout, "artifact prefetch", fs)
	}
	if fs.NArg() > 0 || *storeURL == "" {
		return usageError{"prefetch needs --store (or INFERENCE_ARTIFACT_STORE) and no arguments"}
	}
	_, cached, err := artifactSource(withStore(cfg.Inference, *storeURL, *dir))
	if err != nil {
		return err
	}
	if cached == nil {
		return usageError{"prefetch reads from an object store (s3:// or gs://), not a directory"}
	}
	db, err := storage.Open(ctx, cfg.Storage)
	if err != nil {
		return err
	}
	defer db.Close()
	shas, err := db.ActiveArtifacts(ctx)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	failed := 0
	for _, sha := range shas {
		line := prefetchLine{SHA: sha, Downloaded: !cached.Cached(sha)}
		if _, err := cached.Load(ctx, sha); err != nil {
			line.ErrorCode, line.Message, line.Downloaded = string(inference.ErrorCode(err)), inference.SafeMessage(err), false
			failed++
		} else {
			line.OK = true
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

// withStore is cfg with the store and cache the command line named.
func withStore(cfg inference.Config, storeURL, dir string) inference.Config {
	cfg.ArtifactStore, cfg.ArtifactDir = storeURL, dir
	return cfg
}
