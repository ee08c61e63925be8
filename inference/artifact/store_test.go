package artifact_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/artifact"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
)

func TestLoadGoldenArtifacts(t *testing.T) {
	store := inferencetest.Store()
	for _, c := range inferencetest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			art, err := store.Load(context.Background(), c.SHA)
			require.NoError(t, err)
			p := art.Payload
			assert.Equal(t, c.PayloadVersion, p.Version)
			assert.Equal(t, c.Objective, p.Objective)
			assert.Equal(t, c.FeatureNames, art.InputFeatures)
			assert.Equal(t, c.Kind, p.Kind())
			if c.Ensemble() {
				assert.Equal(t, inference.ContentNotApplicable, art.Content, "ensembles cannot be re-hashed outside Python")
				require.NotNil(t, p.Ensemble)
				assert.Len(t, p.Ensemble.Members, len(c.Parts))
				return
			}
			assert.Equal(t, inference.ContentMatch, art.Content, "recomputed content sha")
			assert.Equal(t, c.BestIteration, p.Booster.BestIteration)
		})
	}
}

func TestTamperedModelTextIsCaught(t *testing.T) {
	c := inferencetest.CaseNamed(t, "binary")
	src := inferencetest.Store()
	path, err := src.Path(c.SHA)
	require.NoError(t, err)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	tampered := tamperLeafValue(t, data)

	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, c.SHA[:2]), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, c.SHA[:2], c.SHA+".pkl"), tampered, 0o644))
	store := &artifact.Store{Dir: dir, Limits: artifact.DefaultPickleLimits}

	p, _, _, err := store.ReadPayload(context.Background(), c.SHA)
	require.NoError(t, err, "the self-reported sha still matches the file name")
	check, err := artifact.VerifyContent(p)
	assert.Equal(t, inference.ContentMismatch, check)
	assert.Equal(t, inference.CodeArtifactCorrupt, inference.ErrorCode(err))
	_, err = store.Load(context.Background(), c.SHA)
	assert.Equal(t, inference.CodeArtifactCorrupt, inference.ErrorCode(err))
}

// tamperLeafValue changes one digit of the first leaf value inside the
// pickled model text, keeping every length the same.
func tamperLeafValue(t *testing.T, data []byte) []byte {
	t.Helper()
	out := append([]byte(nil), data...)
	marker := []byte("leaf_value=")
	i := indexOf(out, marker)
	require.GreaterOrEqual(t, i, 0)
	for j := i + len(marker); j < len(out); j++ {
		if out[j] >= '1' && out[j] <= '8' {
			out[j]++
			return out
		}
	}
	t.Fatal("no digit to tamper with")
	return nil
}

func indexOf(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	return -1
}

func TestArtifactErrors(t *testing.T) {
	store := inferencetest.Store()
	tests := []struct {
		name string
		sha  string
		code inference.Code
	}{
		{"traversal", "../../etc/passwd", inference.CodeArtifactCorrupt},
		{"uppercase", "975EAAD3390DDEF3FA9A7D3A41FB62E8DDF00FDEC6901557F1686D98D3F1EE27", inference.CodeArtifactCorrupt},
		{"short", "975eaad3", inference.CodeArtifactCorrupt},
		{"absent", "0000000000000000000000000000000000000000000000000000000000000000", inference.CodeArtifactFileMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := store.Load(context.Background(), tt.sha)
			require.Error(t, err)
			assert.Equal(t, tt.code, inference.ErrorCode(err))
		})
	}
}
