package goeval

import (
	"encoding/binary"
	"fmt"
	"math"
)

// decodeUBJSON reads one UBJSON value (the format of XGBoost's memory
// snapshots): objects become map[string]any, typed arrays of numbers
// []float32, []float64 or []int64, other arrays []any, integers int64,
// float32 values float32, float64 values float64. Every length is checked
// against the bytes left and nesting is bounded, so a hostile snapshot
// cannot make it allocate more than its own size or recurse without end.
func decodeUBJSON(b []byte) (any, error) {
	d := &ubDecoder{b: b}
	v, err := d.value(d.byte1(), 0)
	if err == nil && d.err != nil {
		err = d.err
	}
	if err != nil {
		return nil, corrupt("XGBoost snapshot: %v", err)
	}
	return v, nil
}

type ubDecoder struct {
	b   []byte
	pos int
	err error
}

const ubMaxDepth = 64

func (d *ubDecoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.pos {
		d.err = fmt.Errorf("truncated at byte %d", d.pos)
		return nil
	}
	s := d.b[d.pos : d.pos+n]
	d.pos += n
	return s
}

func (d *ubDecoder) byte1() byte {
	if s := d.take(1); s != nil {
		return s[0]
	}
	return 0
}

// width is the byte size of a fixed-size scalar marker, 0 for others.
func ubWidth(m byte) int {
	switch m {
	case 'i', 'U':
		return 1
	case 'I':
		return 2
	case 'l', 'd':
		return 4
	case 'L', 'D':
		return 8
	}
	return 0
}

func (d *ubDecoder) scalar(m byte) (any, error) {
	s := d.take(ubWidth(m))
	if d.err != nil {
		return nil, d.err
	}
	switch m {
	case 'i':
		return int64(int8(s[0])), nil
	case 'U':
		return int64(s[0]), nil
	case 'I':
		return int64(int16(binary.BigEndian.Uint16(s))), nil
	case 'l':
		return int64(int32(binary.BigEndian.Uint32(s))), nil
	case 'L':
		return int64(binary.BigEndian.Uint64(s)), nil
	case 'd':
		return math.Float32frombits(binary.BigEndian.Uint32(s)), nil
	default: // 'D'
		return math.Float64frombits(binary.BigEndian.Uint64(s)), nil
	}
}

func (d *ubDecoder) length() (int, error) {
	m := d.byte1()
	if ubWidth(m) == 0 || m == 'd' || m == 'D' {
		return 0, fmt.Errorf("bad length marker %q at byte %d", m, d.pos)
	}
	v, err := d.scalar(m)
	if err != nil {
		return 0, err
	}
	n := v.(int64)
	if n < 0 || n > int64(len(d.b)) {
		return 0, fmt.Errorf("length %d at byte %d", n, d.pos)
	}
	return int(n), nil
}

func (d *ubDecoder) value(m byte, depth int) (any, error) {
	if d.err != nil {
		return nil, d.err
	}
	if depth > ubMaxDepth {
		return nil, fmt.Errorf("nested deeper than %d", ubMaxDepth)
	}
	switch m {
	case 'Z':
		return nil, nil
	case 'T':
		return true, nil
	case 'F':
		return false, nil
	case 'C':
		return string(d.take(1)), d.err
	case 'S', 'H':
		n, err := d.length()
		if err != nil {
			return nil, err
		}
		return string(d.take(n)), d.err
	case '[':
		return d.array(depth)
	case '{':
		return d.object(depth)
	}
	if ubWidth(m) > 0 {
		return d.scalar(m)
	}
	return nil, fmt.Errorf("unknown marker %q at byte %d", m, d.pos-1)
}

// header reads an optimized container's "$type" and "#count"; count is -1
// when the container is closed by its end marker instead.
func (d *ubDecoder) header() (typ byte, count int, err error) {
	count = -1
	if d.pos < len(d.b) && d.b[d.pos] == '$' {
		d.pos++
		typ = d.byte1()
		if d.pos >= len(d.b) || d.b[d.pos] != '#' {
			return 0, 0, fmt.Errorf("typed container without a count at byte %d", d.pos)
		}
	}
	if d.pos < len(d.b) && d.b[d.pos] == '#' {
		d.pos++
		if count, err = d.length(); err != nil {
			return 0, 0, err
		}
	}
	return typ, count, nil
}

func (d *ubDecoder) array(depth int) (any, error) {
	typ, count, err := d.header()
	if err != nil {
		return nil, err
	}
	if w := ubWidth(typ); w > 0 {
		return d.typedArray(typ, w, count)
	}
	var out []any
	for i := 0; count < 0 || i < count; i++ {
		m := typ
		if m == 0 {
			if m = d.byte1(); count < 0 && m == ']' {
				break
			}
		}
		v, err := d.value(m, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, d.err
}

func (d *ubDecoder) typedArray(typ byte, w, count int) (any, error) {
	s := d.take(count * w)
	if d.err != nil {
		return nil, d.err
	}
	switch typ {
	case 'd':
		out := make([]float32, count)
		for i := range out {
			out[i] = math.Float32frombits(binary.BigEndian.Uint32(s[4*i:]))
		}
		return out, nil
	case 'D':
		out := make([]float64, count)
		for i := range out {
			out[i] = math.Float64frombits(binary.BigEndian.Uint64(s[8*i:]))
		}
		return out, nil
	}
	out := make([]int64, count)
	sub := &ubDecoder{b: s}
	for i := range out {
		v, _ := sub.scalar(typ)
		out[i] = v.(int64)
	}
	return out, nil
}

func (d *ubDecoder) object(depth int) (any, error) {
	typ, count, err := d.header()
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for i := 0; count < 0 || i < count; i++ {
		if count < 0 && d.pos < len(d.b) && d.b[d.pos] == '}' {
			d.pos++
			break
		}
		n, err := d.length()
		if err != nil {
			return nil, err
		}
		key := string(d.take(n))
		m := typ
		if m == 0 {
			m = d.byte1()
		}
		if out[key], err = d.value(m, depth+1); err != nil {
			return nil, err
		}
	}
	return out, d.err
}
