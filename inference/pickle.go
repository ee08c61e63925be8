package inference

import (
	"bytes"
	"fmt"
	"math/big"
	"time"

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

// Call serves REDUCE for the value constructors in the allowlist.
func (c *pyClass) Call(args ...any) (any, error) {
	switch c.kind {
	case kindDatetime:
		return newDatetime(args)
	case kindDate:
		if len(args) != 1 {
			return nil, fmt.Errorf("datetime.date: %d arguments", len(args))
		}
		b, ok := args[0].([]byte)
		if !ok || len(b) != 4 {
			return nil, fmt.Errorf("datetime.date: unexpected state")
		}
		return PyDate{time.Date(int(b[0])<<8|int(b[1]), time.Month(b[2]), int(b[3]), 0, 0, 0, 0, time.UTC)}, nil
	case kindTimedelta:
		if len(args) != 3 {
			return nil, fmt.Errorf("datetime.timedelta: %d arguments", len(args))
		}
		var v [3]int
		for i, a := range args {
			n, ok := a.(int)
			if !ok {
				return nil, fmt.Errorf("datetime.timedelta: argument %d is %T", i, a)
			}
			v[i] = n
		}
		return PyTimedelta{v[0], v[1], v[2]}, nil
	case kindDefaultDict:
		// The factory is kept nowhere: a defaultdict is only ever read here.
		return types.NewDict(), nil
	case kindDtype:
		if len(args) != 3 {
			return nil, fmt.Errorf("numpy.dtype: %d arguments", len(args))
		}
		kind, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("numpy.dtype: kind is %T", args[0])
		}
		return &NumpyDtype{Kind: kind, ByteOrder: "<"}, nil
	case kindScalar:
		if len(args) != 2 {
			return nil, fmt.Errorf("numpy scalar: %d arguments", len(args))
		}
		dtype, ok := args[0].(*NumpyDtype)
		if !ok {
			return nil, fmt.Errorf("numpy scalar: dtype is %T", args[0])
		}
		raw, ok := args[1].([]byte)
		if !ok {
			if s, isStr := args[1].(string); isStr {
				raw = []byte(s)
			} else {
				return nil, fmt.Errorf("numpy scalar: data is %T", args[1])
			}
		}
		return NumpyScalar{Dtype: dtype, Raw: raw}, nil
	case kindFromBuffer:
		return newFromBuffer(args)
	case kindReconstruct:
		if len(args) != 3 {
			return nil, fmt.Errorf("numpy _reconstruct: %d arguments", len(args))
		}
		if cls, ok := args[0].(*pyClass); !ok || cls.kind != kindNdarray {
			return nil, fmt.Errorf("numpy _reconstruct of %v", args[0])
		}
		return &NumpyArray{}, nil
	case kindSet, kindFrozenSet:
		s := types.NewSet()
		if len(args) == 1 {
			items, ok := args[0].(*types.List)
			if !ok {
				return nil, fmt.Errorf("%s: argument is %T", c.qualname(), args[0])
			}
			for _, it := range *items {
				s.Add(it)
			}
		}
		return s, nil
	case kindByteArray:
		if len(args) == 0 {
			return types.NewByteArray(), nil
		}
		b, ok := args[0].([]byte)
		if !ok {
			return nil, fmt.Errorf("bytearray: argument is %T", args[0])
		}
		return types.NewByteArrayFromSlice(b), nil
	}
	return nil, fmt.Errorf("%s cannot be called", c.qualname())
}

func newDatetime(args []any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("datetime.datetime: %d arguments (only naive datetimes are allowed)", len(args))
	}
	b, ok := args[0].([]byte)
	if !ok || len(b) != 10 {
		return nil, fmt.Errorf("datetime.datetime: unexpected state")
	}
	us := int(b[7])<<16 | int(b[8])<<8 | int(b[9])
	if b[2] < 1 || b[2] > 12 || b[3] < 1 || b[3] > 31 || b[4] > 23 || b[5] > 59 || b[6] > 59 || us > 999999 {
		return nil, fmt.Errorf("datetime.datetime: out-of-range field")
	}
	t := time.Date(int(b[0])<<8|int(b[1]), time.Month(b[2]), int(b[3]), int(b[4]), int(b[5]), int(b[6]), us*1000, time.UTC)
	return PyDatetime{t}, nil
}

// newFromBuffer rebuilds numpy's _frombuffer(buf, dtype, shape, order
// [, axis_order]): the buffer holds the elements in C order of shape, and
// order 'K' with an axis_order transposes that view.
func newFromBuffer(args []any) (any, error) {
	if len(args) != 4 && len(args) != 5 {
		return nil, fmt.Errorf("numpy _frombuffer: %d arguments", len(args))
	}
	var raw []byte
	switch b := args[0].(type) {
	case []byte:
		raw = b
	case *types.ByteArray:
		raw = []byte(*b)
	default:
		return nil, fmt.Errorf("numpy _frombuffer: buffer is %T", args[0])
	}
	dtype, ok := args[1].(*NumpyDtype)
	if !ok {
		return nil, fmt.Errorf("numpy _frombuffer: dtype is %T", args[1])
	}
	shape, err := intTuple(args[2])
	if err != nil {
		return nil, fmt.Errorf("numpy _frombuffer shape: %w", err)
	}
	order, _ := args[3].(string)
	a := &NumpyArray{Dtype: dtype, Shape: shape, Raw: raw}
	if err := a.checkSize(); err != nil {
		return nil, err
	}
	if order == "F" {
		return a.fromFortran()
	}
	if len(args) == 5 && args[4] != nil && order == "K" {
		axes, err := intTuple(args[4])
		if err != nil {
			return nil, fmt.Errorf("numpy _frombuffer axis_order: %w", err)
		}
		return a.transposed(axes)
	}
	return a, nil
}

// fromFortran reorders a column-major buffer of a.Shape into C order: such a
// buffer is the C-order buffer of the reversed shape, transposed.
func (a *NumpyArray) fromFortran() (*NumpyArray, error) {
	nd := len(a.Shape)
	if nd < 2 {
		return a, nil
	}
	rev := &NumpyArray{Dtype: a.Dtype, Shape: make([]int, nd), Raw: a.Raw, Objects: a.Objects}
	axes := make([]int, nd)
	for k := range a.Shape {
		rev.Shape[k] = a.Shape[nd-1-k]
		axes[k] = nd - 1 - k
	}
	if rev.Objects != nil {
		return nil, fmt.Errorf("numpy: Fortran-ordered object arrays are not supported")
	}
	return rev.transposed(axes)
}

// transposed applies an axis permutation (numpy's transpose), returning a
// C-ordered copy.
func (a *NumpyArray) transposed(axes []int) (*NumpyArray, error) {
	nd := len(a.Shape)
	if len(axes) != nd {
		return nil, fmt.Errorf("numpy _frombuffer: axis_order %v for %d dimensions", axes, nd)
	}
	seen := make([]bool, nd)
	for _, ax := range axes {
		if ax < 0 || ax >= nd || seen[ax] {
			return nil, fmt.Errorf("numpy _frombuffer: axis_order %v is not a permutation", axes)
		}
		seen[ax] = true
	}
	size, ok := a.Dtype.itemSize()
	if !ok {
		if a.Len() == 0 {
			return a, nil
		}
		return nil, fmt.Errorf("numpy _frombuffer: cannot transpose dtype %q", a.Dtype.Kind)
	}
	inStride := make([]int, nd) // C strides of the stored shape, in elements
	st := 1
	for k := nd - 1; k >= 0; k-- {
		inStride[k] = st
		st *= a.Shape[k]
	}
	outShape := make([]int, nd)
	for k, ax := range axes {
		outShape[k] = a.Shape[ax]
	}
	out := make([]byte, len(a.Raw))
	idx := make([]int, nd)
	for o := 0; o < a.Len(); o++ {
		src := 0
		for k := range idx {
			src += idx[k] * inStride[axes[k]]
		}
		copy(out[o*size:(o+1)*size], a.Raw[src*size:(src+1)*size])
		for k := nd - 1; k >= 0; k-- { // next output index in C order
			idx[k]++
			if idx[k] < outShape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return &NumpyArray{Dtype: a.Dtype, Shape: outShape, Raw: out}, nil
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
		return nil, Errorf(CodeArtifactCorrupt, "pickle is %d bytes, over the %d-byte limit", len(data), lim.MaxBytes)
	}
	if err := scanPickle(data, lim); err != nil {
		return nil, Wrap(err, CodeArtifactCorrupt, "malformed pickle: %v", err)
	}
	defer func() {
		if r := recover(); r != nil {
			value, err = nil, Errorf(CodeArtifactCorrupt, "malformed pickle: decoder failed: %v", r)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(data))
	u.FindClass = findClass
	v, err := u.Load()
	if err != nil {
		var refused *RefusedGlobalError
		if asRefused(err, &refused) {
			return nil, Wrap(err, CodeArtifactCorrupt, "artifact references %s.%s, which is not allowed", refused.Module, refused.Name).
				WithDetails(map[string]any{"global": refused.Module + "." + refused.Name})
		}
		return nil, Wrap(err, CodeArtifactCorrupt, "malformed pickle: %v", err)
	}
	if err := checkGraph(v, lim); err != nil {
		return nil, Wrap(err, CodeArtifactCorrupt, "malformed pickle: %v", err)
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
