package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference/artifact/objstore/objstoretest"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
)

// goldenPath is where a golden artifact lives in the repository.
func goldenPath(sha string) string {
	return filepath.Join(inferencetest.ArtifactDir(), sha[:2], sha+".pkl")
}

// storeEnv is a service whose artifacts come from the object store at
// storeURL, cached in a fresh directory.
func storeEnv(t *testing.T, dsn, storeURL string) (*testEnv, string) {
	cache := t.TempDir()
	e := newTestEnv(t, dsn, func(c *config) {
		c.Inference.ArtifactStore, c.Inference.ArtifactDir = storeURL, cache
		c.Inference.ArtifactDownloadTimeout = 20 * time.Second
	})
	return e, cache
}

// cacheFiles lists everything in the cache directory (temporaries included).
func cacheFiles(t *testing.T, dir string) []string {
	var out []string
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			out = append(out, strings.TrimPrefix(p, dir+"/"))
		}
		return err
	}))
	return out
}

func bitsOf(t *testing.T, r response) uint64 {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	return math.Float64bits(num(t, r.body["value"]))
}

// TestStoreDownloadsVerifiesAndCaches: the first request downloads the
// artifact once, verifies it and caches it; the next ones read the cache.
func TestStoreDownloadsVerifiesAndCaches(t *testing.T) {
	s3 := objstoretest.Start(t)
	bucket := s3.Bucket("artifacts", "models")
	dsn := cluster.NewDatabase(t)
	e, cache := storeEnv(t, dsn, s3.URL("artifacts", "models"))
	s := e.scenario("binary", scenarioOpts{})
	objstoretest.Upload(t, bucket, s.c.SHA, goldenPath(s.c.SHA))

	assert.Equal(t, math.Float64bits(s.want(0)[0]), bitsOf(t, e.post("/inference/run", s.runBody(0))), "Python's bits, from the store")
	assert.Equal(t, []string{s.c.SHA[:2] + "/" + s.c.SHA + ".pkl"}, cacheFiles(t, cache))
	bitsOf(t, e.post("/inference/run", s.runBody(1)))
	e.app.cache.Close() // drop the loaded model: the next load reads the cache, not the store
	bitsOf(t, e.post("/inference/run", s.runBody(2)))
	assert.EqualValues(t, 1, e.app.remote.Downloads(), "one download, then the cache")
	r := e.do(http.MethodGet, "/readyz", nil, nil)
	assert.Equal(t, "ok", r.body["artifact_store"])
}

// TestStoreRefusesATamperedObject: an object whose payload is not the sha it
// is stored under is artifact_corrupt and never reaches the cache.
func TestStoreRefusesATamperedObject(t *testing.T) {
	s3 := objstoretest.Start(t)
	bucket := s3.Bucket("artifacts", "")
	e, cache := storeEnv(t, cluster.NewDatabase(t), s3.URL("artifacts", ""))
	s := e.scenario("binary", scenarioOpts{})
	other := inferencetest.CaseNamed(t, "regression")
	objstoretest.Upload(t, bucket, s.c.SHA, goldenPath(other.SHA)) // another artifact's bytes under this sha
	wantError(t, e.post("/inference/run", s.runBody(0)), 502, "artifact_corrupt")
	assert.Empty(t, cacheFiles(t, cache), "nothing cached, no temporary left")
	// Replaced by the right object, it serves (the refusal was not cached).
	objstoretest.Upload(t, bucket, s.c.SHA, goldenPath(s.c.SHA))
	bitsOf(t, e.post("/inference/run", s.runBody(0)))
}

// TestStoreSharesOneDownload: concurrent first requests for one sha make a
// single download.
func TestStoreSharesOneDownload(t *testing.T) {
	s3 := objstoretest.Start(t)
	bucket := s3.Bucket("artifacts", "m")
	e, _ := storeEnv(t, cluster.NewDatabase(t), s3.URL("artifacts", "m"))
	s := e.scenario("trees500", scenarioOpts{})
	objstoretest.Upload(t, bucket, s.c.SHA, goldenPath(s.c.SHA))
	var wg sync.WaitGroup
	statuses := make([]int, 16)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.post("/inference/run", s.runBody(i%len(s.bars))).status
		}()
	}
	wg.Wait()
	for _, st := range statuses {
		assert.Equal(t, http.StatusOK, st)
	}
	assert.EqualValues(t, 1, e.app.remote.Downloads())
}

// TestStoreOutageAndRecovery: with the store down, cached models keep
// serving, a missing one is 503 artifact_store_unavailable, readiness
// follows the rule; once the store is back the missing one serves.
func TestStoreOutageAndRecovery(t *testing.T) {
	s3 := objstoretest.Start(t)
	bucket := s3.Bucket("artifacts", "m")
	e, _ := storeEnv(t, cluster.NewDatabase(t), s3.URL("artifacts", "m"))
	warm := e.scenario("binary", scenarioOpts{})
	cold := e.scenario("regression", scenarioOpts{})
	objstoretest.Upload(t, bucket, warm.c.SHA, goldenPath(warm.c.SHA))
	objstoretest.Upload(t, bucket, cold.c.SHA, goldenPath(cold.c.SHA))
	bitsOf(t, e.post("/inference/run", warm.runBody(0)))

	s3.Stop()
	bitsOf(t, e.post("/inference/run", warm.runBody(1))) // cached: serves
	r := e.post("/inference/run", cold.runBody(0))
	wantError(t, r, 503, "artifact_store_unavailable")
	assert.Equal(t, true, r.body["retryable"])
	assert.Equal(t, "retry", r.body["next_action"].(map[string]any)["kind"])
	ready := e.do(http.MethodGet, "/readyz", nil, nil)
	assert.Equal(t, http.StatusServiceUnavailable, ready.status, "an active signal's artifact is not cached")
	assert.Equal(t, "unreachable", ready.body["artifact_store"])
	e.seed.Exec(`UPDATE signal_definition SET status = 'retired' WHERE signal_id = $1`, cold.signalID)
	ready = e.do(http.MethodGet, "/readyz", nil, nil)
	assert.Equal(t, http.StatusOK, ready.status, "every active artifact is cached: still ready")
	assert.Equal(t, "unreachable", ready.body["artifact_store"])

	s3.Restart() // empty: the operator re-uploads
	e.seed.Exec(`UPDATE signal_definition SET status = 'active' WHERE signal_id = $1`, cold.signalID)
	bucket = s3.Bucket("artifacts", "m")
	objstoretest.Upload(t, bucket, cold.c.SHA, goldenPath(cold.c.SHA))
	bitsOf(t, e.post("/inference/run", cold.runBody(0)))
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/readyz", nil, nil).status)
}

// TestStoreDroppedMidDownload: the store's connection dies halfway through
// the object; the request is 503 and no partial file is left anywhere.
func TestStoreDroppedMidDownload(t *testing.T) {
	s3 := objstoretest.Start(t)
	bucket := s3.Bucket("artifacts", "m")
	target, _ := url.Parse(s3.Endpoint())
	proxy := httputil.NewSingleHostReverseProxy(target)
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, ".pkl") {
			proxy.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		proxy.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack() // the store goes away mid-body
		if err == nil {
			conn.Close()
		}
	}))
	defer cut.Close()
	storeURL := "s3://artifacts/m?region=us-east-1&endpoint=" + cut.URL
	e, cache := storeEnv(t, cluster.NewDatabase(t), storeURL)
	s := e.scenario("trees500", scenarioOpts{})
	objstoretest.Upload(t, bucket, s.c.SHA, goldenPath(s.c.SHA))
	wantError(t, e.post("/inference/run", s.runBody(0)), 503, "artifact_store_unavailable")
	assert.Empty(t, cacheFiles(t, cache), "no partial file, no temporary")
}

// TestTwoReplicasShareOneStore: two services on one database and one store,
// each with its own cache and its streaming worker, write every bar once.
func TestTwoReplicasShareOneStore(t *testing.T) {
	s3 := objstoretest.Start(t)
	bucket := s3.Bucket("artifacts", "fleet")
	e := newEnv(t)
	sigs := []*scenario{e.scenario("binary", scenarioOpts{}), e.scenario("regression", scenarioOpts{})}
	for _, s := range sigs {
		objstoretest.Upload(t, bucket, s.c.SHA, goldenPath(s.c.SHA))
	}
	clock := &testClock{}
	clock.Set(time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC))
	replica := func() *app {
		cfg, err := parseConfig(map[string]string{})
		require.NoError(t, err)
		cfg.Storage.DSN = e.cfg.Storage.DSN
		cfg.Inference.ArtifactStore, cfg.Inference.ArtifactDir = s3.URL("artifacts", "fleet"), t.TempDir()
		cfg.Inference.Stream.Enabled, cfg.Inference.Stream.PollSeconds, cfg.Inference.Stream.MaxGapHours = true, 1, 24
		a, err := newApp(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), clock.Now)
		require.NoError(t, err)
		t.Cleanup(a.close)
		return a
	}
	c1, c2 := passTogether(replica(), replica())
	want := 0
	for _, s := range sigs {
		want += len(s.bars)
		rows := e.seed.History(s.signalID)
		require.Len(t, rows, len(s.bars), s.c.Name)
		for i, row := range rows {
			bitsEqual(t, s.want(i)[0], row.Value, s.c.Name)
		}
	}
	assert.Equal(t, want, c1.Written+c2.Written, "every bar written exactly once between the two")
	assert.Zero(t, c1.Errors+c2.Errors)
}

// TestVerifyAndPrefetchFromTheStore: the operator tools work on store URLs.
func TestVerifyAndPrefetchFromTheStore(t *testing.T) {
	s3 := objstoretest.Start(t)
	bucket := s3.Bucket("artifacts", "ops")
	e := newEnv(t)
	s := e.scenario("binary", scenarioOpts{})
	reg := inferencetest.CaseNamed(t, "regression")
	for _, sha := range []string{s.c.SHA, reg.SHA} {
		objstoretest.Upload(t, bucket, sha, goldenPath(sha))
	}
	out, err := runCmd(t, "", "artifact", "verify", "--store", s3.URL("artifacts", "ops"))
	require.NoError(t, err, out)
	lines := verifyLines(t, out)
	require.Len(t, lines, 2, "every artifact in the store")
	for _, l := range lines {
		assert.True(t, l.OK, "%+v", l)
	}

	cache := t.TempDir()
	var buf strings.Builder
	err = run(context.Background(), []string{"artifact", "prefetch", "--store", s3.URL("artifacts", "ops"), "--dir", cache},
		map[string]string{"INFERENCE_DB_DSN": e.cfg.Storage.DSN}, nil, &buf, io.Discard)
	require.NoError(t, err, buf.String())
	assert.Contains(t, buf.String(), `"sha":"`+s.c.SHA+`","ok":true,"downloaded":true`)
	assert.NotContains(t, buf.String(), reg.SHA, "only what active and shadow signals use")
	assert.Equal(t, []string{s.c.SHA[:2] + "/" + s.c.SHA + ".pkl"}, cacheFiles(t, cache))
}

// TestVerifyEveryScheme: artifact verify finds the golden artifacts through
// every way of naming where they are (--dir, file://, s3://, gs://), listing
// them all or only the SHAs named, and a named SHA that is not there is
// artifact_file_missing in each.
func TestVerifyEveryScheme(t *testing.T) {
	dir := inferencetest.ArtifactDir()
	all, err := listArtifacts(dir)
	require.NoError(t, err)
	require.Len(t, all, 28, "the golden corpus")
	s3 := objstoretest.Start(t)
	bucket := s3.Bucket("golden", "corpus")
	for _, sha := range all {
		objstoretest.Upload(t, bucket, sha, goldenPath(sha))
	}
	gs := strings.Replace(s3.URL("golden", "corpus"), "s3://", "gs://", 1)
	require.True(t, strings.HasPrefix(gs, "gs://golden/corpus?"), gs)
	named := []string{all[0], all[len(all)/2]}
	absent := strings.Repeat("ab", 32)
	for _, where := range [][]string{
		{"--dir", dir}, {"--store", "file://" + dir}, {"--store", s3.URL("golden", "corpus")}, {"--store", gs},
	} {
		t.Run(strings.SplitN(where[1], ":", 2)[0], func(t *testing.T) {
			out, err := runCmd(t, "", append([]string{"artifact", "verify"}, where...)...)
			require.NoError(t, err, out)
			lines := verifyLines(t, out)
			require.Len(t, lines, len(all), "every artifact")
			for i, l := range lines {
				assert.Equal(t, all[i], l.SHA)
				assert.True(t, l.OK, "%+v", l)
			}

			out, err = runCmd(t, "", append(append([]string{"artifact", "verify"}, where...), named...)...)
			require.NoError(t, err, out)
			lines = verifyLines(t, out)
			require.Len(t, lines, len(named), "the SHAs named, only")
			for i, l := range lines {
				assert.Equal(t, named[i], l.SHA)
				assert.True(t, l.OK, "%+v", l)
			}

			out, err = runCmd(t, "", append(append([]string{"artifact", "verify"}, where...), absent)...)
			require.ErrorIs(t, err, errReported, out)
			lines = verifyLines(t, out)
			require.Len(t, lines, 1)
			assert.Equal(t, "artifact_file_missing", lines[0].ErrorCode, "%+v", lines[0])
		})
	}
	_, err = runCmd(t, "", "artifact", "verify", "--store", "file://"+dir, "--dir", t.TempDir())
	assert.ErrorAs(t, err, new(usageError), "a file:// store is read in place: a cache makes no sense")
}
