package inference

import (
	"reflect"
	"unsafe"
)

// Sized is a model that knows the memory it holds, including what it holds
// outside the Go heap (the cgo build's boosters, measured when they load).
type Sized interface {
	ResidentBytes() int64
}

// modelBytes is what a loaded model holds: its own account when it keeps
// one (Sized), else the Go memory reachable from it.
func modelBytes(m Model) int64 {
	if s, ok := m.(Sized); ok {
		return s.ResidentBytes()
	}
	return goBytes(m)
}

// goBytes walks the Go values reachable from v and adds up their memory:
// structs, arrays and pointed-to values at their size, slices at their
// capacity, strings and map entries at their length (each shared pointer,
// slice or string counted once). Maps count their entries and a bucket
// overhead per entry as the runtime lays them out; unsafe pointers and
// channels are not followed. It reads the values; it allocates only its
// visited set.
func goBytes(v any) int64 {
	if v == nil {
		return 0
	}
	w := sizeWalk{seen: map[uintptr]bool{}}
	rv := reflect.ValueOf(v)
	return int64(rv.Type().Size()) + w.inner(rv)
}

type sizeWalk struct{ seen map[uintptr]bool }

// once reports whether the memory at p is met for the first time.
func (w *sizeWalk) once(p uintptr) bool {
	if p == 0 || w.seen[p] {
		return false
	}
	w.seen[p] = true
	return true
}

// mapEntryOverhead is the runtime's per-entry cost beyond the key and value
// (control bytes and load-factor slack of its groups).
const mapEntryOverhead = 8

// inner is the memory v refers to beyond its own Type().Size().
func (w *sizeWalk) inner(v reflect.Value) int64 {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || !w.once(v.Pointer()) {
			return 0
		}
		e := v.Elem()
		return int64(e.Type().Size()) + w.inner(e)
	case reflect.Interface:
		if v.IsNil() {
			return 0
		}
		e := v.Elem()
		if e.Kind() == reflect.Pointer {
			return w.inner(e)
		}
		return int64(e.Type().Size()) + w.inner(e)
	case reflect.String:
		s := v.String()
		if len(s) == 0 || !w.once(uintptr(unsafe.Pointer(unsafe.StringData(s)))) {
			return 0
		}
		return int64(len(s))
	case reflect.Slice:
		if v.IsNil() || v.Cap() == 0 || !w.once(v.Pointer()) {
			return 0
		}
		n := int64(v.Cap()) * int64(v.Type().Elem().Size())
		if hasRefs(v.Type().Elem()) {
			for i := 0; i < v.Len(); i++ {
				n += w.inner(v.Index(i))
			}
		}
		return n
	case reflect.Array:
		var n int64
		if hasRefs(v.Type().Elem()) {
			for i := 0; i < v.Len(); i++ {
				n += w.inner(v.Index(i))
			}
		}
		return n
	case reflect.Struct:
		var n int64
		for i := 0; i < v.NumField(); i++ {
			n += w.inner(v.Field(i))
		}
		return n
	case reflect.Map:
		if v.IsNil() || !w.once(v.Pointer()) {
			return 0
		}
		t := v.Type()
		n := int64(v.Len()) * (int64(t.Key().Size()+t.Elem().Size()) + mapEntryOverhead)
		if hasRefs(t.Key()) || hasRefs(t.Elem()) {
			it := v.MapRange()
			for it.Next() {
				n += w.inner(it.Key()) + w.inner(it.Value())
			}
		}
		return n
	}
	return 0 // numbers, bools, funcs, channels, unsafe pointers
}

// hasRefs reports whether a value of t can refer to memory the walk counts.
func hasRefs(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.String, reflect.Slice, reflect.Map:
		return true
	case reflect.Array:
		return hasRefs(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if hasRefs(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}
