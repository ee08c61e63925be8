package artifact

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rfkih/blackheart-inference/inference"
)

// Remote is an object store holding artifacts under content-addressed keys
// (package inference/artifact/objstore implements it for S3 and GCS).
type Remote interface {
	// Get opens the object at key and returns its size (-1 when unknown).
	// A missing object is ErrObjectNotFound; a store that cannot be reached
	// or fails mid-transfer is ErrStoreUnreachable (wrapped).
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// Ping checks that the store answers and the bucket exists.
	Ping(ctx context.Context) error
	// String names the store for logs and errors, never with credentials.
	String() string
}

// The Remote failures the cache tells apart.
var (
	ErrObjectNotFound   = errors.New("object not found")
	ErrStoreUnreachable = errors.New("artifact store unreachable")
)

// CachedStore serves artifacts from Cache (the local directory,
// INFERENCE_ARTIFACT_DIR) and downloads the missing ones from Remote first.
// A download is written to a hidden temporary name beside its final one,
// fsynced, verified exactly as a local artifact is (the trainer's sha rule
// and the recomputed content sha, D6) and only then renamed into place, so
// nothing ever reads a partial or unverified file. Concurrent requests for
// one sha share one download. It implements inference.ArtifactSource and
// is safe for concurrent use.
type CachedStore struct {
	Cache  *Store
	Remote Remote
	// Timeout bounds one download (default 2 minutes). Each request waits
	// only as long as its own context allows; the download it shares goes
	// on for the others.
	Timeout time.Duration

	mu        sync.Mutex
	inflight  map[string]*download
	downloads atomic.Int64
}

type download struct {
	done chan struct{}
	art  *inference.Artifact // the verified artifact, shared by every waiter
	err  error
}

var _ inference.ArtifactSource = (*CachedStore)(nil)

// Key is where an artifact lives in the store, below the store's prefix.
func Key(sha string) string { return sha[:2] + "/" + sha + ".pkl" }

// Downloads counts the downloads started so far.
func (c *CachedStore) Downloads() int64 { return c.downloads.Load() }

// Cached reports whether sha is in the local cache.
func (c *CachedStore) Cached(sha string) bool {
	path, err := c.Cache.Path(sha)
	if err != nil {
		return false
	}
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// Load serves sha from the cache, downloading and verifying it first when
// it is not there yet.
func (c *CachedStore) Load(ctx context.Context, sha string) (*inference.Artifact, error) {
	if _, err := c.Cache.Path(sha); err != nil {
		return nil, err
	}
	if c.Cached(sha) {
		return c.Cache.Load(ctx, sha)
	}
	return c.fetch(ctx, sha) // verified once, while downloading: not read twice
}

// Ping reports whether the remote store answers.
func (c *CachedStore) Ping(ctx context.Context) error {
	if err := c.Remote.Ping(ctx); err != nil {
		return storeUnavailable(c.Remote, err)
	}
	return nil
}

// fetch waits for sha's download, starting it if none is running, and
// returns the artifact it verified.
func (c *CachedStore) fetch(ctx context.Context, sha string) (*inference.Artifact, error) {
	c.mu.Lock()
	if c.inflight == nil {
		c.inflight = map[string]*download{}
	}
	d, running := c.inflight[sha]
	if !running {
		d = &download{done: make(chan struct{})}
		c.inflight[sha] = d
		c.downloads.Add(1)
		timeout := c.Timeout
		if timeout <= 0 {
			timeout = 2 * time.Minute
		}
		// Detached from the first requester: one that gives up must not
		// fail the download the others wait for.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		go func() {
			defer cancel()
			d.art, d.err = c.download(dctx, sha)
			c.mu.Lock()
			delete(c.inflight, sha)
			c.mu.Unlock()
			close(d.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-d.done:
		return d.art, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// download copies the object to a temporary file, verifies it and renames
// it into the cache.
func (c *CachedStore) download(ctx context.Context, sha string) (art *inference.Artifact, err error) {
	final, _ := c.Cache.Path(sha)
	rc, size, err := c.Remote.Get(ctx, Key(sha))
	switch {
	case errors.Is(err, ErrObjectNotFound):
		return nil, inference.Wrap(err, inference.CodeArtifactFileMissing, "artifact %s is not in the artifact store %s", sha, c.Remote).
			WithHint("upload the artifact from the trainer, or check INFERENCE_ARTIFACT_STORE")
	case err != nil:
		return nil, storeUnavailable(c.Remote, err)
	}
	defer rc.Close()
	limit := c.Cache.Limits.MaxBytes
	if size > limit {
		return nil, inference.Errorf(inference.CodeArtifactCorrupt, "artifact %s is %d bytes in the store, larger than the %d-byte limit", sha, size, limit)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, inference.Wrap(err, inference.CodeInternal, "create the artifact cache directory")
	}
	tmp := filepath.Join(filepath.Dir(final), "."+sha+".pkl.download-"+randomSuffix())
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err := copyToFile(tmp, rc, limit); err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, inference.Errorf(inference.CodeArtifactCorrupt, "artifact %s in the store is larger than the %d-byte limit", sha, limit)
		}
		return nil, storeUnavailable(c.Remote, fmt.Errorf("%w: reading %s: %w", ErrStoreUnreachable, Key(sha), err))
	}
	if art, err = c.Cache.loadAt(ctx, tmp, sha); err != nil {
		return nil, err // a tampered or malformed object: refused, never cached
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, inference.Wrap(err, inference.CodeInternal, "publish artifact %s in the cache", sha)
	}
	art.Path = final
	return art, syncDir(filepath.Dir(final))
}

var errTooLarge = errors.New("larger than the limit")

// copyToFile writes at most limit bytes of r to a new file at path and
// fsyncs it.
func copyToFile(path string, r io.Reader, limit int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if err == nil && n > limit {
		err = errTooLarge
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func storeUnavailable(r Remote, err error) error {
	return inference.Wrap(err, inference.CodeArtifactStoreUnavailable, "the artifact store %s cannot be reached", r).
		WithHint("the store is down or unreachable; artifacts already cached keep serving")
}
