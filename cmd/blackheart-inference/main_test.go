package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/artifact"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
)

// predictLimit is the ulp distance from Python allowed for this case's
// transformed output: exact in both builds except an ensemble's logistic
// member (numpy's exp against Go's).
func predictLimit(c inferencetest.Case) uint64 {
	if c.Ensemble() && len(c.Parts["logreg_l1"]) > 0 {
		return 4
	}
	return 0
}

func runCmd(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, nil, strings.NewReader(stdin), &out, &errOut)
	return out.String(), err
}

func verifyLines(t *testing.T, out string) []verifyLine {
	t.Helper()
	var lines []verifyLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var v verifyLine
		require.NoError(t, json.Unmarshal([]byte(l), &v), l)
		lines = append(lines, v)
	}
	return lines
}

func TestVerifyGoldens(t *testing.T) {
	out, err := runCmd(t, "", "artifact", "verify", "--dir", inferencetest.ArtifactDir())
	cases := inferencetest.Cases(t)
	bySHA := map[string]inferencetest.Case{}
	for _, c := range cases {
		bySHA[c.SHA] = c
	}
	lines := verifyLines(t, out)
	require.Len(t, lines, len(cases))
	for _, l := range lines {
		c := bySHA[l.SHA]
		assert.Equal(t, c.Kind, l.Kind)
		if c.Ensemble() {
			assert.Equal(t, "not_applicable", l.ContentSHA, l.SHA)
		} else {
			assert.Equal(t, "match", l.ContentSHA, l.SHA)
		}
		assert.True(t, l.OK, "%+v", l)
	}
	assert.NoError(t, err)
}

func TestVerifyRefusesMaliciousAndTampered(t *testing.T) {
	out, err := runCmd(t, "", "artifact", "verify", "--dir", inferencetest.HostileDir())
	assert.ErrorIs(t, err, errReported)
	for _, l := range verifyLines(t, out) {
		assert.False(t, l.OK)
		assert.Equal(t, "artifact_corrupt", l.ErrorCode)
		assert.Contains(t, l.Message, "not allowed")
	}

	c := inferencetest.CaseNamed(t, "regression")
	src := filepath.Join(inferencetest.ArtifactDir(), c.SHA[:2], c.SHA+".pkl")
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	i := bytes.Index(data, []byte("leaf_value=")) + len("leaf_value=")
	for data[i] < '1' || data[i] > '8' {
		i++
	}
	data[i]++ // same length: the pickle stays well formed
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, c.SHA[:2]), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, c.SHA[:2], c.SHA+".pkl"), data, 0o644))
	out, err = runCmd(t, "", "artifact", "verify", "--dir", dir, c.SHA)
	assert.ErrorIs(t, err, errReported)
	l := verifyLines(t, out)[0]
	assert.False(t, l.OK)
	assert.Equal(t, "mismatch", l.ContentSHA)
	assert.Equal(t, "artifact_corrupt", l.ErrorCode)
}

// csvFor writes the case's inputs with the columns reversed (the header maps
// them back by name), NaN as an empty cell.
func csvFor(c inferencetest.Case) string {
	var b strings.Builder
	n := len(c.FeatureNames)
	for j := n - 1; j >= 0; j-- {
		b.WriteString(c.FeatureNames[j])
		if j > 0 {
			b.WriteByte(',')
		}
	}
	b.WriteByte('\n')
	for _, row := range c.Inputs {
		for j := n - 1; j >= 0; j-- {
			if !math.IsNaN(row[j]) {
				b.WriteString(strconv.FormatFloat(row[j], 'g', -1, 64))
			}
			if j > 0 {
				b.WriteByte(',')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

type predictLine struct {
	Row    int       `json:"row"`
	Values []float64 `json:"values"`
	Bits   []string  `json:"bits"`
}

// TestPredictReproducesPython: the predict tool on every golden artifact
// prints Python's bits, raw and transformed, in both builds (an ensemble with
// a logistic member: within predictLimit).
func TestPredictReproducesPython(t *testing.T) {
	for _, c := range inferencetest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			for _, raw := range []bool{false, true} {
				if raw && c.Ensemble() {
					continue // ensembles have no raw scores
				}
				args := []string{"predict", "--dir", inferencetest.ArtifactDir(), "--sha", c.SHA}
				want := c.Predict
				if raw {
					args = append(args, "--raw")
					want = c.Raw
				}
				out, err := runCmd(t, csvFor(c), args...)
				require.NoError(t, err)
				lines := strings.Split(strings.TrimSpace(out), "\n")
				require.Len(t, lines, len(c.Inputs))
				for i, l := range lines {
					var p predictLine
					require.NoError(t, json.Unmarshal([]byte(l), &p))
					require.Equal(t, i, p.Row)
					for k, w := range want[i] {
						got := inferencetest.FromHex(t, p.Bits[k])
						limit := uint64(0)
						if !raw {
							limit = predictLimit(c)
						}
						assert.LessOrEqual(t, inferencetest.ULPDistance(got, w), limit, "row %d raw=%v", i, raw)
					}
				}
			}
		})
	}
}

func TestPredictRejectsBadCSV(t *testing.T) {
	c := inferencetest.CaseNamed(t, "binary")
	args := []string{"predict", "--dir", inferencetest.ArtifactDir(), "--sha", c.SHA}
	header := strings.Join(c.FeatureNames, ",")
	_, err := runCmd(t, header+",extra\n"+strings.Repeat("1,", len(c.FeatureNames))+"1\n", args...)
	assert.ErrorContains(t, err, "unknown [extra]")
	_, err = runCmd(t, strings.Join(c.FeatureNames[1:], ",")+"\n", args...)
	assert.ErrorContains(t, err, "missing ["+c.FeatureNames[0]+"]")
	_, err = runCmd(t, header+"\n"+strings.Repeat("x,", len(c.FeatureNames)-1)+"x\n", args...)
	assert.ErrorContains(t, err, "is not a number")
	_, err = runCmd(t, "", "predict", "--dir", inferencetest.ArtifactDir())
	var ue usageError
	assert.ErrorAs(t, err, &ue)
}

// The error for a bad cell names its column, not its value (the CSV reader
// reuses its record slice, header included, unless the header is copied).
func TestPredictNamesTheColumnOfABadCell(t *testing.T) {
	c := inferencetest.CaseNamed(t, "regression")
	header := strings.Join(c.FeatureNames, ",")
	_, err := runCmd(t, header+"\n1,2,3,4,5\n1,2,oops,4,5\n", "predict", "--dir", inferencetest.ArtifactDir(), "--sha", c.SHA)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `column "`+c.FeatureNames[2]+`"`)
	assert.Contains(t, err.Error(), `"oops" is not a number`)
}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"predict", "--help"}, {"predict", "-h"},
		{"artifact", "--help"}, {"artifact", "verify", "--help"}} {
		out, err := runCmd(t, "", args...)
		assert.NoError(t, err, "%v", args)
		assert.Contains(t, out, "usage", "%v", args)
	}
	_, err := runCmd(t, "", "predict", "--bogus")
	var ue usageError
	assert.ErrorAs(t, err, &ue, "an unknown flag is still a usage error")
}

// Non-regular files at an artifact's path are refused before anything is
// read: a FIFO would block open() forever, /dev/zero never ends.
func TestVerifyRefusesNonRegularArtifacts(t *testing.T) {
	dir := t.TempDir()
	fifo := strings.Repeat("f", 64)
	zero := strings.Repeat("e", 64)
	big := strings.Repeat("d", 64)
	for _, sha := range []string{fifo, zero, big} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, sha[:2]), 0o755))
	}
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, fifo[:2], fifo+".pkl"), 0o644))
	require.NoError(t, os.Symlink("/dev/zero", filepath.Join(dir, zero[:2], zero+".pkl")))
	f, err := os.Create(filepath.Join(dir, big[:2], big+".pkl"))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(artifact.DefaultPickleLimits.MaxBytes+1)) // sparse: no bytes written
	require.NoError(t, f.Close())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	err = run(ctx, []string{"artifact", "verify", "--dir", dir, fifo, zero, big}, nil, nil, &out, io.Discard)
	require.ErrorIs(t, err, errReported, "verify finishes and reports")
	runtime.ReadMemStats(&ms)
	assert.Less(t, ms.TotalAlloc-before, uint64(64<<20), "nothing was read into memory")
	lines := verifyLines(t, out.String())
	require.Len(t, lines, 3)
	for _, l := range lines {
		assert.False(t, l.OK, l.SHA)
		assert.Equal(t, "artifact_corrupt", l.ErrorCode, l.SHA)
	}
	assert.Contains(t, lines[0].Message, "not a regular file")
	assert.Contains(t, lines[1].Message, "not a regular file")
	assert.Contains(t, lines[2].Message, "larger than")
}

// A read that does not finish (a stalled file system, say) is abandoned
// when the caller's context ends.
func TestArtifactReadsStopAtTheCallersDeadline(t *testing.T) {
	c := inferencetest.CaseNamed(t, "binary")
	store := inferencetest.Store()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := store.Load(ctx, c.SHA)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
}

// sklearn's scaler refuses a NaN row; so do we, with a code, never a 500.
func TestEnsembleRefusesNonFiniteInputWithACode(t *testing.T) {
	c := inferencetest.CaseNamed(t, "ensemble")
	header := strings.Join(c.FeatureNames, ",")
	_, err := runCmd(t, header+"\n1,,3,4,5,6\n", "predict", "--dir", inferencetest.ArtifactDir(), "--sha", c.SHA)
	require.Error(t, err)
	assert.Equal(t, inference.CodeValidationFailed, inference.ErrorCode(err), "%v", err)
}

// TestExplainReproducesPython: the explain tool on every golden booster
// prints Python's pred_contrib bits for every row, feature by feature and
// the bias, in both builds; where Python refuses (linear trees), so does it.
func TestExplainReproducesPython(t *testing.T) {
	for _, c := range inferencetest.Cases(t) {
		if c.Ensemble() {
			continue // members: native's TestGoldenEnsembleContributions
		}
		t.Run(c.Name, func(t *testing.T) {
			out, err := runCmd(t, csvFor(c), "explain", "--dir", inferencetest.ArtifactDir(), "--sha", c.SHA)
			if c.ContribRefused != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.ContribRefused)
				return
			}
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			require.Len(t, lines, len(c.Inputs))
			nf := len(c.FeatureNames)
			at := map[string]int{}
			for j, f := range c.FeatureNames {
				at[f] = j
			}
			for i, l := range lines {
				var e explainLine
				require.NoError(t, json.Unmarshal([]byte(l), &e))
				require.Equal(t, i, e.Row)
				require.Len(t, e.Explanations, c.NumClass)
				for k, set := range e.Explanations {
					block := c.Contrib[i][k*(nf+1) : (k+1)*(nf+1)]
					assert.Equal(t, hexBits(block[nf]), set.BiasBits, "row %d class %d bias", i, k)
					require.Len(t, set.Contributions, nf)
					for _, f := range set.Contributions {
						assert.Equal(t, hexBits(block[at[f.Feature]]), f.Bits, "row %d class %d %s", i, k, f.Feature)
					}
					assert.LessOrEqual(t, set.AdditivityError, inference.AdditivityTolerance)
				}
			}
		})
	}
}
