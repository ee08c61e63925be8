package artifact

import (
	"fmt"
	"math/big"
	"time"

	"github.com/nlpodyssey/gopickle/types"
)

// dictReader reads typed fields from an unpickled dict, producing
// artifact_corrupt errors that name the field path.
type dictReader struct {
	d    *types.Dict
	path string
}

func (r dictReader) get(key string) (any, bool) {
	for _, e := range *r.d {
		if k, ok := e.Key.(string); ok && k == key {
			return e.Value, true
		}
	}
	return nil, false
}

func (r dictReader) has(key string) bool { _, ok := r.get(key); return ok }

// hasValue reports whether key is present and not None.
func (r dictReader) hasValue(key string) bool { v, ok := r.get(key); return ok && v != nil }

func (r dictReader) field(key string) (any, error) {
	v, ok := r.get(key)
	if !ok {
		return nil, corrupt("%s has no %q", r.path, key)
	}
	return v, nil
}

func (r dictReader) str(key string) (string, error) {
	v, err := r.field(key)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", corrupt("%s.%s is a %s, not a str", r.path, key, pyTypeName(v))
	}
	return s, nil
}

func (r dictReader) optStr(key string) (string, bool) {
	v, _ := r.get(key)
	s, ok := v.(string)
	return s, ok
}

func (r dictReader) optBool(key string) (bool, bool) {
	v, _ := r.get(key)
	b, ok := v.(bool)
	return b, ok
}

// optDatetime is a datetime.datetime value as UTC (the trainer stores naive
// UTC), or the zero time.
func (r dictReader) optDatetime(key string) time.Time {
	v, _ := r.get(key)
	if d, ok := v.(PyDatetime); ok {
		return d.Time.UTC()
	}
	return time.Time{}
}

func (r dictReader) int(key string) (int, error) {
	v, err := r.field(key)
	if err != nil {
		return 0, err
	}
	n, ok := pyInt(v)
	if !ok {
		return 0, corrupt("%s.%s is a %s, not an int", r.path, key, pyTypeName(v))
	}
	return n, nil
}

func (r dictReader) dict(key string) (dictReader, error) {
	v, err := r.field(key)
	if err != nil {
		return dictReader{}, err
	}
	d, ok := v.(*types.Dict)
	if !ok {
		return dictReader{}, corrupt("%s.%s is a %s, not a dict", r.path, key, pyTypeName(v))
	}
	return dictReader{d, r.path + "." + key}, nil
}

func (r dictReader) strings(key string) ([]string, error) {
	v, err := r.field(key)
	if err != nil {
		return nil, err
	}
	items := sequence(v)
	if items == nil && !isSequence(v) {
		return nil, corrupt("%s.%s is a %s, not a list of str", r.path, key, pyTypeName(v))
	}
	out := make([]string, len(items))
	for i, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, corrupt("%s.%s[%d] is a %s, not a str", r.path, key, i, pyTypeName(it))
		}
		out[i] = s
	}
	return out, nil
}

func (r dictReader) intMap(key string) (map[string]int, error) {
	d, err := r.dict(key)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, d.d.Len())
	for _, e := range *d.d {
		k, ok := e.Key.(string)
		if !ok {
			return nil, corrupt("%s has a %s key", d.path, pyTypeName(e.Key))
		}
		n, ok := pyInt(e.Value)
		if !ok {
			return nil, corrupt("%s[%q] is a %s, not an int", d.path, k, pyTypeName(e.Value))
		}
		out[k] = n
	}
	return out, nil
}

// pyInt accepts Python ints and numpy integer scalars that fit an int.
func pyInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case *big.Int:
		if x.IsInt64() {
			return int(x.Int64()), true
		}
	case NumpyScalar:
		switch x.Dtype.Kind {
		case "i8", "i4", "i2", "i1", "u4", "u2", "u1":
			f, err := x.Float64()
			return int(f), err == nil
		}
	}
	return 0, false
}

func isSequence(v any) bool {
	switch v.(type) {
	case *types.Tuple, *types.List:
		return true
	}
	return false
}

// sequence returns the items of a tuple or list, or nil.
func sequence(v any) []any {
	switch x := v.(type) {
	case *types.Tuple:
		return []any(*x)
	case *types.List:
		return []any(*x)
	}
	return nil
}

// pyTypeName names a decoded value's Python type for error messages.
func pyTypeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case *types.Tuple:
		return "tuple"
	case *types.List:
		return "list"
	case *types.Dict, *types.OrderedDict:
		return "dict"
	case *PyObject:
		return x.Module + "." + x.Name
	case NumpyScalar:
		return "numpy scalar"
	case *NumpyArray:
		return "numpy.ndarray"
	}
	return fmt.Sprintf("%T", v)
}
