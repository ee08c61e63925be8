package artifact

import (
	"github.com/rfkih/blackheart-inference/inference"

	"bytes"
	"fmt"
	"math/big"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// classKind says how an allowlisted global may be used.
type classKind int

const (
	kindObject      classKind = iota // NEWOBJ + BUILD: instances kept as PyObject
	kindDatetime                     // REDUCE (bytes,)
	kindDate                         // REDUCE (bytes,)
	kindTimedelta                    // REDUCE (days, seconds, microseconds)
	kindDefaultDict                  // REDUCE (factory,) then SETITEMS
	kindDtype                        // REDUCE (str, bool, bool) then BUILD
	kindScalar                       // REDUCE (dtype, bytes)
	kindFromBuffer                   // REDUCE (buffer, dtype, shape, order)
	kindReconstruct                  // REDUCE (ndarray, shape, typecode) then BUILD
	kindNdarray                      // only as _reconstruct's first argument
	kindSet                          // REDUCE ([items],)
	kindFrozenSet                    // REDUCE ([items],)
	kindByteArray                    // REDUCE (bytes,)
)

// allowedGlobals is every global a blackheart-train artifact may reference.
// Anything else is refused with an error naming it; nothing here executes.
var allowedGlobals = map[string]classKind{
	"lightgbm.basic.Booster":                              kindObject,
	"lightgbm.sklearn.LGBMClassifier":                     kindObject,
	"lightgbm.sklearn.LGBMRegressor":                      kindObject,
	"xgboost.core.Booster":                                kindObject,
	"xgboost.sklearn.XGBClassifier":                       kindObject,
	"xgboost.sklearn.XGBRegressor":                        kindObject,
	"blackheart_train.ensemble.Ensemble":                  kindObject,
	"blackheart_train.ensemble.FittedBaseModel":           kindObject,
	"sklearn.linear_model._logistic.LogisticRegressionCV": kindObject,
	"sklearn.preprocessing._data.StandardScaler":          kindObject,
	"sklearn.preprocessing._label.LabelEncoder":           kindObject,
	"datetime.datetime":                                   kindDatetime,
	"datetime.date":                                       kindDate,
	"datetime.timedelta":                                  kindTimedelta,
	"collections.defaultdict":                             kindDefaultDict,
	"numpy.dtype":                                         kindDtype,
	"numpy.ndarray":                                       kindNdarray,
	"numpy.core.multiarray.scalar":                        kindScalar,
	"numpy._core.multiarray.scalar":                       kindScalar,
	"numpy.core.numeric._frombuffer":                      kindFromBuffer,
	"numpy._core.numeric._frombuffer":                     kindFromBuffer,
	"numpy.core.multiarray._reconstruct":                  kindReconstruct,
	"numpy._core.multiarray._reconstruct":                 kindReconstruct,
	"builtins.set":                                        kindSet,
	"builtins.frozenset":                                  kindFrozenSet,
	"builtins.bytearray":                                  kindByteArray,
}

// RefusedGlobalError names a global outside the allowlist.
type RefusedGlobalError struct{ Module, Name string }

// Error names the refused global.
func (e *RefusedGlobalError) Error() string {
	return fmt.Sprintf("global %s.%s is not in the artifact allowlist", e.Module, e.Name)
}

// pyClass is an allowlisted global as it sits on the unpickler's stack.
type pyClass struct {
	module, name string
	kind         classKind
}

func (c *pyClass) qualname() string { return c.module + "." + c.name }

// PyNew serves NEWOBJ: only plain object classes may be instantiated.
func (c *pyClass) PyNew(args ...any) (any, error) {
	if c.kind != kindObject {
		return nil, fmt.Errorf("%s cannot be instantiated with NEWOBJ", c.qualname())
	}
	return &PyObject{Module: c.module, Name: c.name, Args: args}, nil
}

func findClass(module, name string) (any, error) {
	kind, ok := allowedGlobals[module+"."+name]
	if !ok {
		return nil, &RefusedGlobalError{Module: module, Name: name}
	}
	return &pyClass{module: module, name: name, kind: kind}, nil
}

// Unpickle decodes a pickle with the allowlist above and the given limits.
// It never executes Python: globals resolve to inert Go values or are
// refused. Hostile input yields an error, never a panic or an unbounded
// allocation. Errors are *Error with CodeArtifactCorrupt.
func Unpickle(data []byte, lim PickleLimits) (value any, err error) {
	if int64(len(data)) > lim.MaxBytes {
		return nil, inference.Errorf(inference.CodeArtifactCorrupt, "pickle is %d bytes, over the %d-byte limit", len(data), lim.MaxBytes)
	}
	if err := scanPickle(data, lim); err != nil {
		return nil, inference.Wrap(err, inference.CodeArtifactCorrupt, "malformed pickle: %v", err)
	}
	defer func() {
		if r := recover(); r != nil {
			value, err = nil, inference.Errorf(inference.CodeArtifactCorrupt, "malformed pickle: decoder failed: %v", r)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(data))
	u.FindClass = findClass
	v, err := u.Load()
	if err != nil {
		var refused *RefusedGlobalError
		if asRefused(err, &refused) {
			return nil, inference.Wrap(err, inference.CodeArtifactCorrupt, "artifact references %s.%s, which is not allowed", refused.Module, refused.Name).
				WithDetails(map[string]any{"global": refused.Module + "." + refused.Name})
		}
		return nil, inference.Wrap(err, inference.CodeArtifactCorrupt, "malformed pickle: %v", err)
	}
	if err := checkGraph(v, lim); err != nil {
		return nil, inference.Wrap(err, inference.CodeArtifactCorrupt, "malformed pickle: %v", err)
	}
	return v, nil
}

func asRefused(err error, target **RefusedGlobalError) bool {
	r, ok := err.(*RefusedGlobalError)
	if ok {
		*target = r
	}
	return ok
}

// checkGraph bounds the decoded value's depth (which also stops cycles made
// through the memo) and the number of values visited, and rejects any value
// type the decoder could produce but the payload never holds (gopickle's
// placeholders for Python 2 names, for instance).
func checkGraph(root any, lim PickleLimits) error {
	nodes := 0
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		nodes++
		if nodes > lim.MaxNodes {
			return fmt.Errorf("more than %d values", lim.MaxNodes)
		}
		if depth > lim.MaxDepth {
			return fmt.Errorf("nesting deeper than %d", lim.MaxDepth)
		}
		switch x := v.(type) {
		case nil, bool, int, float64, string, []byte, *big.Int, *types.ByteArray,
			PyDatetime, PyDate, PyTimedelta, *NumpyDtype, NumpyScalar, *pyClass:
			return nil
		case *types.Tuple:
			return walkAll([]any(*x), depth, walk)
		case *types.List:
			return walkAll([]any(*x), depth, walk)
		case *types.Set:
			for k := range *x {
				if err := walk(k, depth+1); err != nil {
					return err
				}
			}
			return nil
		case *types.FrozenSet:
			for k := range *x {
				if err := walk(k, depth+1); err != nil {
					return err
				}
			}
			return nil
		case *types.Dict:
			for _, e := range *x {
				if err := walk(e.Key, depth+1); err != nil {
					return err
				}
				if err := walk(e.Value, depth+1); err != nil {
					return err
				}
			}
			return nil
		case *types.OrderedDict:
			for _, k := range x.Map {
				if err := walk(k.Key, depth+1); err != nil {
					return err
				}
				if err := walk(k.Value, depth+1); err != nil {
					return err
				}
			}
			return nil
		case *PyObject:
			if err := walkAll(x.Args, depth, walk); err != nil {
				return err
			}
			return walk(x.State, depth+1)
		case *NumpyArray:
			if x.Dtype == nil {
				return fmt.Errorf("numpy array never built")
			}
			return walkAll(x.Objects, depth, walk)
		default:
			return fmt.Errorf("unexpected value of type %T", v)
		}
	}
	return walk(root, 0)
}

func walkAll(items []any, depth int, walk func(any, int) error) error {
	for _, it := range items {
		if err := walk(it, depth+1); err != nil {
			return err
		}
	}
	return nil
}
