package main

import (
	"context"
	"strings"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/artifact"
	"github.com/rfkih/blackheart-inference/inference/artifact/objstore"
	"github.com/rfkih/blackheart-inference/storage"
)

// artifactSource builds where artifacts come from (cfg.ArtifactStore): the
// local directory, or an object store cached in cfg.ArtifactDir. The
// *CachedStore is nil for the local directory.
func artifactSource(cfg inference.Config) (inference.ArtifactSource, *artifact.CachedStore, error) {
	storeURL := cfg.ArtifactStore
	local := &artifact.Store{Dir: cfg.ArtifactDir, Limits: artifact.DefaultPickleLimits}
	if storeURL == "" {
		return local, nil, nil
	}
	if path, ok := strings.CutPrefix(storeURL, "file://"); ok {
		if path != "" {
			local.Dir = path
		}
		return local, nil, nil
	}
	bucket, err := objstore.Open(storeURL)
	if err != nil {
		return nil, nil, err
	}
	cached := &artifact.CachedStore{Cache: local, Remote: bucket, Timeout: cfg.ArtifactDownloadTimeout}
	return cached, cached, nil
}

// storeReadiness is /readyz's artifact_store check: ready while the store
// answers, or while every active and shadow signal's artifact is cached.
type storeReadiness struct {
	cached *artifact.CachedStore
	db     *storage.Store
}

func (s storeReadiness) StoreStatus(ctx context.Context) (string, bool) {
	if s.cached.Ping(ctx) == nil {
		return "ok", true
	}
	shas, err := s.db.ActiveArtifacts(ctx)
	if err != nil {
		return "unreachable", false
	}
	for _, sha := range shas {
		if !s.cached.Cached(sha) {
			return "unreachable", false
		}
	}
	return "unreachable", true // every artifact in use is cached
}
