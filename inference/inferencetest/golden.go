package inferencetest

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/rfkih/blackheart-inference/inference/artifact"
)

// Case is one golden model with its inputs and Python's outputs.
type Case struct {
	Name           string
	SHA            string
	Objective      string
	PayloadVersion int
	BestIteration  int
	NumTrees       int
	NumClass       int
	FeatureNames   []string
	// DecimalRows index inputs rounded to 6 decimal places, which survive
	// NUMERIC(28,10) storage exactly: the rows service tests seed.
	DecimalRows []int
	Inputs      [][]float64
	Predict     [][]float64 // Booster.predict(X), or the ensemble's mean predict_proba
	Raw         [][]float64 // Booster.predict(X, raw_score=True); empty for ensembles
	// Kind is "booster" or "ensemble"; Parts holds, for ensembles, each
	// member kind's own output (predict_proba, or predict for regressors).
	Kind  string
	Parts map[string][][]float64
	// Contrib is Booster.predict(X, pred_contrib=True): per row, per class,
	// one value per feature then the bias. ContribRefused is LightGBM's
	// message where it refuses instead (linear trees).
	Contrib        [][]float64
	ContribRefused string
	// MemberContrib holds, for ensembles, each member kind's contributions
	// in its own space, laid out as Contrib; NaN rows are rows Python
	// could not explain.
	MemberContrib map[string][][]float64
	// Vintage is, for the models the generator trained on a calendar
	// (issue 26), what the saved model saw, as the generator knows it; PIT
	// the bars around honest_from with their inputs and the value an
	// honest replay writes there; OOFRows the OOF predictions stored.
	Vintage *CaseVintage
	PIT     []PITBar
	OOFRows int
}

// Ensemble reports whether the case is an ensemble payload.
func (c Case) Ensemble() bool { return c.Kind == "ensemble" }

type caseFile struct {
	Name           string                `json:"name"`
	SHA            string                `json:"sha"`
	Objective      string                `json:"objective"`
	PayloadVersion int                   `json:"payload_version"`
	BestIteration  int                   `json:"best_iteration"`
	NumTrees       int                   `json:"num_trees"`
	NumClass       int                   `json:"num_class"`
	FeatureNames   []string              `json:"feature_names"`
	DecimalRows    []int                 `json:"decimal_rows"`
	Inputs         [][]string            `json:"inputs"`
	Predict        [][]string            `json:"predict"`
	Raw            [][]string            `json:"raw"`
	Kind           string                `json:"kind"`
	Parts          map[string][][]string `json:"parts"`
	Contrib        [][]string            `json:"contrib"`
	ContribRefused string                `json:"contrib_refused"`
	MemberContrib  map[string][][]string `json:"member_contrib"`
	Vintage        *CaseVintage          `json:"vintage"`
	PIT            []pitBarFile          `json:"pit"`
	OOFRows        int                   `json:"oof_rows"`
}

// Dir is testdata/golden at the repository root.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "golden")
}

// ArtifactDir is the golden artifact directory (content-addressed layout).
func ArtifactDir() string { return filepath.Join(Dir(), "artifacts") }

// Store reads the golden artifacts with the service's own reader.
func Store() *artifact.Store {
	return &artifact.Store{Dir: ArtifactDir(), Limits: artifact.DefaultPickleLimits}
}

// HostileDir holds pickles that must be refused (never unpickled by Python).
func HostileDir() string { return filepath.Join(Dir(), "hostile") }

// Cases loads every golden case, sorted by name.
func Cases(t testing.TB) []Case {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(Dir(), "cases", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases under %s (run make golden): %v", Dir(), err)
	}
	sort.Strings(files)
	out := make([]Case, 0, len(files))
	for _, f := range files {
		out = append(out, load(t, f))
	}
	return out
}

// CaseNamed loads one golden case.
func CaseNamed(t testing.TB, name string) Case {
	t.Helper()
	return load(t, filepath.Join(Dir(), "cases", name+".json"))
}

func load(t testing.TB, path string) Case {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden case: %v", err)
	}
	var cf caseFile
	if err := json.Unmarshal(raw, &cf); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	out := Case{
		Name: cf.Name, SHA: cf.SHA, Objective: cf.Objective, PayloadVersion: cf.PayloadVersion,
		BestIteration: cf.BestIteration, NumTrees: cf.NumTrees, NumClass: cf.NumClass, FeatureNames: cf.FeatureNames,
		DecimalRows: cf.DecimalRows,
		Inputs:      bitsMatrix(t, cf.Inputs), Predict: bitsMatrix(t, cf.Predict), Raw: bitsMatrix(t, cf.Raw),
		Kind: cf.Kind, Parts: map[string][][]float64{},
		Contrib: bitsMatrix(t, cf.Contrib), ContribRefused: cf.ContribRefused, MemberContrib: map[string][][]float64{},
		Vintage: cf.Vintage, PIT: pitBars(t, cf.PIT), OOFRows: cf.OOFRows,
	}
	if out.Kind == "" {
		out.Kind = "booster"
	}
	for k, rows := range cf.Parts {
		out.Parts[k] = bitsMatrix(t, rows)
	}
	for k, rows := range cf.MemberContrib {
		out.MemberContrib[k] = bitsMatrix(t, rows)
	}
	return out
}

func bitsMatrix(t testing.TB, rows [][]string) [][]float64 {
	out := make([][]float64, len(rows))
	for i, row := range rows {
		out[i] = make([]float64, len(row))
		for j, h := range row {
			out[i][j] = FromHex(t, h)
		}
	}
	return out
}

// FromHex decodes a 16-digit big-endian float64 bit pattern.
func FromHex(t testing.TB, h string) float64 {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 8 {
		t.Fatalf("bad float64 bits %q", h)
	}
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	return math.Float64frombits(u)
}

// Flatten returns rows as one row-major slice.
func Flatten(rows [][]float64) []float64 {
	var out []float64
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// ULPDistance is the number of representable float64 values between a and b
// (0 when bit-identical; NaNs compare equal only to the same bit pattern).
func ULPDistance(a, b float64) uint64 {
	if math.Float64bits(a) == math.Float64bits(b) {
		return 0
	}
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.MaxUint64
	}
	ord := func(f float64) int64 {
		u := int64(math.Float64bits(f))
		if u < 0 {
			return math.MinInt64 - u
		}
		return u
	}
	d := ord(a) - ord(b)
	if d < 0 {
		d = -d
	}
	return uint64(d)
}
