package artifact

import (
	"fmt"
	"time"

	"github.com/nlpodyssey/gopickle/types"
)

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
