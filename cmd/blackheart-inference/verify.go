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
}

func runVerify(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("artifact verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", "", "artifact directory")
	if err := fs.Parse(args); err != nil {
		return flagError(err, stdout, "artifact verify", fs)
	}
	if *dir == "" {
		return usageError{"--dir is required"}
	}
	shas := fs.Args()
	if len(shas) == 0 {
		var err error
		if shas, err = listArtifacts(*dir); err != nil {
			return err
		}
	}
	store := &artifact.Store{Dir: *dir, Limits: artifact.DefaultPickleLimits}
	enc := json.NewEncoder(stdout)
	failed := 0
	for _, sha := range shas {
		if err := ctx.Err(); err != nil {
			return err
		}
		line := verifyOne(ctx, store, sha)
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

// verifyOne runs every check the service would run before serving sha,
// including loading the model into the native library.
func verifyOne(ctx context.Context, store *artifact.Store, sha string) verifyLine {
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
	m, err := inference.OpenModel(art, loaders)
	if err != nil {
		return fail(err)
	}
	m.Close()
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
