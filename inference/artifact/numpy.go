package artifact

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/nlpodyssey/gopickle/types"
)

// NumpyDtype is a numpy.dtype rebuilt from its pickled form.
type NumpyDtype struct {
	Kind      string // as pickled: "f8", "i8", "O", "b1", "U3", …
	ByteOrder string // from the BUILD state: "<", ">", "|" or "="
}

// PySetState takes numpy's dtype state tuple (version, byteorder, …).
func (d *NumpyDtype) PySetState(state any) error {
	t, ok := state.(*types.Tuple)
	if !ok || t.Len() < 2 {
		return fmt.Errorf("numpy.dtype: unexpected state %T", state)
	}
	bo, ok := t.Get(1).(string)
	if !ok {
		return fmt.Errorf("numpy.dtype: byte order is %T", t.Get(1))
	}
	d.ByteOrder = bo
	return nil
}

// itemSize returns the element size of a fixed-width numeric dtype.
func (d *NumpyDtype) itemSize() (int, bool) {
	switch d.Kind {
	case "f8", "i8", "u8":
		return 8, true
	case "f4", "i4", "u4":
		return 4, true
	case "i2", "u2":
		return 2, true
	case "i1", "u1", "b1":
		return 1, true
	}
	return 0, false
}

func (d *NumpyDtype) order() binary.ByteOrder {
	if d.ByteOrder == ">" {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// decode returns element i of raw as float64, for numeric dtypes.
func (d *NumpyDtype) decode(raw []byte) (float64, error) {
	size, ok := d.itemSize()
	if !ok || len(raw) != size {
		return 0, fmt.Errorf("numpy dtype %q: cannot decode %d bytes", d.Kind, len(raw))
	}
	o := d.order()
	switch d.Kind {
	case "f8":
		return math.Float64frombits(o.Uint64(raw)), nil
	case "f4":
		return float64(math.Float32frombits(o.Uint32(raw))), nil
	case "i8":
		return float64(int64(o.Uint64(raw))), nil
	case "u8":
		return float64(o.Uint64(raw)), nil
	case "i4":
		return float64(int32(o.Uint32(raw))), nil
	case "u4":
		return float64(o.Uint32(raw)), nil
	case "i2":
		return float64(int16(o.Uint16(raw))), nil
	case "u2":
		return float64(o.Uint16(raw)), nil
	case "i1":
		return float64(int8(raw[0])), nil
	default: // u1, b1
		return float64(raw[0]), nil
	}
}

// NumpyScalar is a numpy scalar (np.float64(0.5), np.int64(3), …).
type NumpyScalar struct {
	Dtype *NumpyDtype
	Raw   []byte
}

// Float64 returns the scalar's value for numeric dtypes.
func (s NumpyScalar) Float64() (float64, error) { return s.Dtype.decode(s.Raw) }

// NumpyArray is a numpy.ndarray: numeric arrays keep their raw bytes,
// object arrays their elements.
type NumpyArray struct {
	Dtype   *NumpyDtype
	Shape   []int // elements are kept in C order
	Raw     []byte
	Objects []any
}

// PySetState takes ndarray's state (version, shape, dtype, is_fortran, data).
func (a *NumpyArray) PySetState(state any) error {
	t, ok := state.(*types.Tuple)
	if !ok || t.Len() != 5 {
		return fmt.Errorf("numpy.ndarray: unexpected state %T", state)
	}
	shape, err := intTuple(t.Get(1))
	if err != nil {
		return fmt.Errorf("numpy.ndarray shape: %w", err)
	}
	dtype, ok := t.Get(2).(*NumpyDtype)
	if !ok {
		return fmt.Errorf("numpy.ndarray dtype is %T", t.Get(2))
	}
	fortran, _ := t.Get(3).(bool)
	a.Dtype, a.Shape = dtype, shape
	switch data := t.Get(4).(type) {
	case []byte:
		a.Raw = data
	case string: // protocol < 3 stores bytes as latin-1 str
		a.Raw = []byte(data)
	case *types.List:
		a.Objects = []any(*data)
	default:
		return fmt.Errorf("numpy.ndarray data is %T", data)
	}
	if err := a.checkSize(); err != nil {
		return err
	}
	if fortran && a.Objects == nil && len(a.Shape) > 1 {
		c, err := a.fromFortran()
		if err != nil {
			return err
		}
		a.Shape, a.Raw = c.Shape, c.Raw
	}
	return nil
}

// Len is the number of elements.
func (a *NumpyArray) Len() int {
	n := 1
	for _, s := range a.Shape {
		n *= s
	}
	return n
}

func (a *NumpyArray) checkSize() error {
	for _, s := range a.Shape {
		if s < 0 || s > math.MaxInt32 {
			return fmt.Errorf("numpy.ndarray: bad dimension %d", s)
		}
	}
	if a.Objects != nil {
		if len(a.Objects) != a.Len() {
			return fmt.Errorf("numpy.ndarray: %d objects for shape %v", len(a.Objects), a.Shape)
		}
		return nil
	}
	size, ok := a.Dtype.itemSize()
	if !ok {
		return fmt.Errorf("numpy.ndarray: unsupported dtype %q", a.Dtype.Kind)
	}
	if len(a.Raw) != size*a.Len() {
		return fmt.Errorf("numpy.ndarray: %d bytes for shape %v of %s", len(a.Raw), a.Shape, a.Dtype.Kind)
	}
	return nil
}

// Float64s returns the elements in C order as float64 (numeric dtypes only).
func (a *NumpyArray) Float64s() ([]float64, error) {
	if a.Objects != nil {
		return nil, fmt.Errorf("numpy object array is not numeric")
	}
	size, _ := a.Dtype.itemSize()
	out := make([]float64, a.Len())
	for i := range out {
		v, err := a.Dtype.decode(a.Raw[i*size : (i+1)*size])
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func intTuple(v any) ([]int, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("want a tuple of ints, got %T", v)
	}
	out := make([]int, t.Len())
	for i := range out {
		n, ok := t.Get(i).(int)
		if !ok {
			return nil, fmt.Errorf("want int at %d, got %T", i, t.Get(i))
		}
		out[i] = n
	}
	return out, nil
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
