package artifact_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/artifact"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
)

const pwnedMarker = "/tmp/blackheart-inference-pwned"

// TestMaliciousPicklesAreRefusedNotRun feeds pickles that Python would turn
// into os.system / eval / subprocess.Popen calls. They are refused with an
// error naming the global, and the file they would create never appears.
func TestMaliciousPicklesAreRefusedNotRun(t *testing.T) {
	_ = os.Remove(pwnedMarker)
	files, err := filepath.Glob(filepath.Join(inferencetest.HostileDir(), "*", "*.pkl"))
	require.NoError(t, err)
	require.Len(t, files, 3)
	wantGlobal := map[string]bool{"posix.system": true, "builtins.eval": true, "subprocess.Popen": true}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = artifact.Unpickle(data, artifact.DefaultPickleLimits)
		require.Error(t, err)
		var e *inference.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, inference.CodeArtifactCorrupt, e.Code)
		g, _ := e.Details["global"].(string)
		assert.True(t, wantGlobal[g], "refusal names the global, got %q (%s)", g, e.Message)
		assert.Contains(t, e.Message, g)
	}
	_, err = os.Stat(pwnedMarker)
	assert.True(t, os.IsNotExist(err), "a refused pickle must not have run")
}

func le64(n uint64) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, n)
	return b
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestHostileBytes covers streams that would crash or exhaust gopickle.
func TestHostileBytes(t *testing.T) {
	deep := []byte{0x80, 5}
	for i := 0; i < 200; i++ {
		deep = append(deep, '(')
	}
	deep = append(deep, ']', '.')
	nested := []byte{0x80, 5}
	for i := 0; i < 200; i++ {
		nested = append(nested, ']') // EMPTY_LIST
	}
	for i := 0; i < 199; i++ {
		nested = append(nested, 'a') // APPEND: each list into the one below
	}
	nested = append(nested, '.')

	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"opcode 0xff", []byte{0x80, 5, 0xff, '.'}},
		{"no stop", []byte{0x80, 5, 'N'}},
		{"trailing bytes", []byte{0x80, 5, 'N', '.', 'N'}},
		{"huge BINBYTES8", cat([]byte{0x80, 5, 0x8e}, le64(1<<62), []byte{'.'})},
		{"huge BYTEARRAY8", cat([]byte{0x80, 5, 0x96}, le64(1<<40), []byte{'.'})},
		{"huge frame", cat([]byte{0x80, 5, 0x95}, le64(1<<50), []byte{'N', '.'})},
		{"length beyond data", cat([]byte{0x80, 5, 'X', 0xff, 0xff, 0, 0}, []byte("abc."))},
		{"negative BINSTRING", []byte{0x80, 5, 'T', 0xff, 0xff, 0xff, 0xff, '.'}},
		{"deep marks", deep},
		{"deep nesting", nested},
		{"setitems without mark", []byte{0x80, 5, '}', 'u', '.'}},
		{"odd setitems", []byte{0x80, 5, '}', '(', 'N', 'u', '.'}},
		{"unhashable set item", cat([]byte{0x80, 5, 0x8f, '(', 'C', 1, 'x', 0x90, '.'})},
		{"stack underflow", []byte{0x80, 5, 'R', '.'}},
		{"persistent id", []byte{0x80, 5, 'N', 'Q', '.'}},
		{"reduce on a non-callable", []byte{0x80, 5, 'N', ')', 'R', '.'}},
		{"global not allowed", []byte("cos\nsystem\n(S'true'\ntR.")},
		{"NEWOBJ of datetime", []byte{0x80, 5, 0x8c, 8, 'd', 'a', 't', 'e', 't', 'i', 'm', 'e', 0x8c, 8, 'd', 'a', 't', 'e', 't', 'i', 'm', 'e', 0x93, ')', 0x81, '.'}},
	}
	lim := artifact.DefaultPickleLimits
	lim.MaxDepth = 50
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := artifact.Unpickle(tt.data, lim)
			require.Error(t, err)
			assert.Equal(t, inference.CodeArtifactCorrupt, inference.ErrorCode(err))
		})
	}
}

func TestFileSizeLimit(t *testing.T) {
	lim := artifact.DefaultPickleLimits
	lim.MaxBytes = 3
	_, err := artifact.Unpickle([]byte{0x80, 5, 'N', '.'}, lim)
	assert.Equal(t, inference.CodeArtifactCorrupt, inference.ErrorCode(err))
}

// FuzzUnpickle: no input may panic, hang or escape as anything but
// artifact_corrupt.
func FuzzUnpickle(f *testing.F) {
	c := inferencetest.CaseNamed(f, "v1_binary")
	path := filepath.Join(inferencetest.ArtifactDir(), c.SHA[:2], c.SHA+".pkl")
	seed, err := os.ReadFile(path)
	require.NoError(f, err)
	f.Add(seed)
	f.Add([]byte{0x80, 5, 0xff, '.'})
	f.Add([]byte("cos\nsystem\n(S'true'\ntR."))
	lim := artifact.DefaultPickleLimits
	lim.MaxDeclaredLength = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := artifact.Unpickle(data, lim)
		if err != nil {
			if inference.ErrorCode(err) != inference.CodeArtifactCorrupt {
				t.Fatalf("error with code %s: %v", inference.ErrorCode(err), err)
			}
			return
		}
		if p, err := artifact.DecodePayload(v); err == nil && p.Booster != nil {
			_, _ = artifact.VerifyContent(p)
		}
	})
}
