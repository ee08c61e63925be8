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
		return newDate(args)
	case kindTimedelta:
		return newTimedelta(args)
	case kindDefaultDict:
		// The factory is kept nowhere: a defaultdict is only ever read here.
		return types.NewDict(), nil
	case kindDtype:
		return newDtype(args)
	case kindScalar:
		return newScalar(args)
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
		return c.newSet(args)
	case kindByteArray:
		return newByteArray(args)
	}
	return nil, fmt.Errorf("%s cannot be called", c.qualname())
}

func newDate(args []any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("datetime.date: %d arguments", len(args))
	}
	b, ok := args[0].([]byte)
	if !ok || len(b) != 4 {
		return nil, fmt.Errorf("datetime.date: unexpected state")
	}
	return PyDate{time.Date(int(b[0])<<8|int(b[1]), time.Month(b[2]), int(b[3]), 0, 0, 0, 0, time.UTC)}, nil
}

func newTimedelta(args []any) (any, error) {
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
}

func newDtype(args []any) (any, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("numpy.dtype: %d arguments", len(args))
	}
	kind, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("numpy.dtype: kind is %T", args[0])
	}
	return &NumpyDtype{Kind: kind, ByteOrder: "<"}, nil
}

func newScalar(args []any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("numpy scalar: %d arguments", len(args))
	}
	dtype, ok := args[0].(*NumpyDtype)
	if !ok {
		return nil, fmt.Errorf("numpy scalar: dtype is %T", args[0])
	}
	raw, ok := args[1].([]byte)
	if !ok {
		s, isStr := args[1].(string)
		if !isStr {
			return nil, fmt.Errorf("numpy scalar: data is %T", args[1])
		}
		raw = []byte(s)
	}
	return NumpyScalar{Dtype: dtype, Raw: raw}, nil
}

func (c *pyClass) newSet(args []any) (any, error) {
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
}

func newByteArray(args []any) (any, error) {
	if len(args) == 0 {
		return types.NewByteArray(), nil
	}
	b, ok := args[0].([]byte)
	if !ok {
		return nil, fmt.Errorf("bytearray: argument is %T", args[0])
	}
	return types.NewByteArrayFromSlice(b), nil
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
