package artifact

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nlpodyssey/gopickle/types"
)

// PyJSONObject is an ordered JSON object for PyJSON; keys are sorted on output.
type PyJSONObject []PyJSONMember

// PyJSONMember is one key/value pair of a PyJSONObject.
type PyJSONMember struct {
	Key   string
	Value any
}

// PyJSON renders v exactly as Python's json.dumps(v, sort_keys=True,
// default=str) does: ", " and ": " separators, recursively sorted keys,
// ensure_ascii escaping, float repr, NaN/Infinity, tuples as arrays and
// datetimes through str(). It accepts the values Unpickle produces plus
// PyJSONObject; anything json.dumps would not render the same way is an
// error rather than a guess.
func PyJSON(v any) (string, error) {
	var b strings.Builder
	if err := pyJSON(&b, v, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

// PyJSONSHA256 is the hex sha256 of PyJSON(v), rendered straight into the
// hash: a payload holding a megabyte of model text is never copied whole.
func PyJSONSHA256(v any) (string, error) {
	h := sha256.New()
	w := bufio.NewWriterSize(h, 64<<10)
	if err := pyJSON(w, v, 0); err != nil {
		return "", err
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// pyWriter is where PyJSON renders: a strings.Builder, or a buffered hash.
type pyWriter interface {
	io.Writer
	io.StringWriter
	io.ByteWriter
}

const pyJSONMaxDepth = 128

func pyJSON(b pyWriter, v any, depth int) error {
	if depth > pyJSONMaxDepth {
		return fmt.Errorf("pyjson: nesting deeper than %d", pyJSONMaxDepth)
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int:
		b.WriteString(strconv.Itoa(x))
	case *big.Int:
		b.WriteString(x.String())
	case float64:
		b.WriteString(pyFloatJSON(x))
	case string:
		return pyString(b, x)
	case []string:
		items := make([]any, len(x))
		for i, s := range x {
			items[i] = s
		}
		return pyArray(b, items, depth)
	case *types.Tuple:
		return pyArray(b, []any(*x), depth)
	case *types.List:
		return pyArray(b, []any(*x), depth)
	case []any:
		return pyArray(b, x, depth)
	case *types.Dict:
		obj := make(PyJSONObject, 0, x.Len())
		for _, e := range *x {
			k, err := pyJSONKey(e.Key)
			if err != nil {
				return err
			}
			obj = append(obj, PyJSONMember{k, e.Value})
		}
		return pyObject(b, obj, depth)
	case *types.OrderedDict:
		obj := make(PyJSONObject, 0, x.List.Len())
		for el := x.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			k, err := pyJSONKey(e.Key)
			if err != nil {
				return err
			}
			obj = append(obj, PyJSONMember{k, e.Value})
		}
		return pyObject(b, obj, depth)
	case PyJSONObject:
		return pyObject(b, x, depth)
	case PyDatetime: // default=str
		return pyString(b, x.String())
	case PyDate:
		return pyString(b, x.String())
	case NumpyScalar:
		// np.float64 subclasses float, so json renders it as a number; other
		// numpy scalars would go through str(), whose format we do not mirror.
		if x.Dtype.Kind != "f8" {
			return fmt.Errorf("pyjson: numpy %s scalar has no exact rendering", x.Dtype.Kind)
		}
		f, err := x.Float64()
		if err != nil {
			return err
		}
		b.WriteString(pyFloatJSON(f))
	default:
		return fmt.Errorf("pyjson: cannot render %T as json.dumps(default=str) would", v)
	}
	return nil
}

// pyJSONKey mirrors json.dumps's key coercion for the key types a spec can hold.
func pyJSONKey(k any) (string, error) {
	if s, ok := k.(string); ok {
		return s, nil
	}
	return "", fmt.Errorf("pyjson: non-string dict key of type %T (sort order would differ)", k)
}

func pyArray(b pyWriter, items []any, depth int) error {
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		if err := pyJSON(b, it, depth+1); err != nil {
			return err
		}
	}
	b.WriteByte(']')
	return nil
}

func pyObject(b pyWriter, obj PyJSONObject, depth int) error {
	sorted := make(PyJSONObject, len(obj))
	copy(sorted, obj)
	// Go compares strings bytewise; for valid UTF-8 that is code-point order,
	// which is how Python sorts str keys.
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	b.WriteByte('{')
	for i, m := range sorted {
		if i > 0 {
			if m.Key == sorted[i-1].Key {
				return fmt.Errorf("pyjson: duplicate key %q", m.Key)
			}
			b.WriteString(", ")
		}
		if err := pyString(b, m.Key); err != nil {
			return err
		}
		b.WriteString(": ")
		if err := pyJSON(b, m.Value, depth+1); err != nil {
			return err
		}
	}
	b.WriteByte('}')
	return nil
}

// pyString writes s with json.dumps's ensure_ascii escaping. Runs of
// printable ASCII other than the quote and backslash are copied whole: a
// model text is megabytes of them, hashed at every load.
func pyString(b pyWriter, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("pyjson: string is not valid UTF-8")
	}
	b.WriteByte('"')
	plain := 0 // s[plain:i] is still to copy
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plainWord(s[i:i+8]) {
			i += 8
			continue
		}
		c := s[i]
		if !pyEscaped[c] {
			i++
			continue
		}
		b.WriteString(s[plain:i])
		r, n := rune(c), 1
		if c >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		pyEscape(b, r)
		i += n
		plain = i
	}
	b.WriteString(s[plain:])
	b.WriteByte('"')
	return nil
}

// plainWord reports whether none of w's eight bytes is pyEscaped, eight at
// a time: a byte below 0x20, above 0x7e, a quote or a backslash sets its
// lane's top bit in one of the four tests (each exact as to whether some
// lane matches, which is all that is asked).
func plainWord(w string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
	q, bs := x^(ones*'"'), x^(ones*'\\')
	below := (x - ones*0x20) & ^x
	above := (x + ones) | x // a lane above 0x7e: 0x7f carries into its top bit
	quote := (q - ones) & ^q
	slash := (bs - ones) & ^bs
	return (below|above|quote|slash)&highs == 0
}

// pyEscaped marks the bytes json.dumps (ensure_ascii) does not copy as
// they are: controls, the quote, the backslash, DEL and every non-ASCII
// byte. A table lookup is the inner loop over a megabyte of model text.
var pyEscaped = func() (t [256]bool) {
	for c := range t {
		t[c] = c < 0x20 || c > 0x7e || c == '"' || c == '\\'
	}
	return t
}()

// pyEscape writes the escape json.dumps (ensure_ascii) writes for r, a
// rune that is not printable ASCII, or the quote or backslash.
func pyEscape(b pyWriter, r rune) {
	switch {
	case r == '"':
		b.WriteString(`\"`)
	case r == '\\':
		b.WriteString(`\\`)
	case r == '\n':
		b.WriteString(`\n`)
	case r == '\r':
		b.WriteString(`\r`)
	case r == '\t':
		b.WriteString(`\t`)
	case r == '\b':
		b.WriteString(`\b`)
	case r == '\f':
		b.WriteString(`\f`)
	case r > 0xffff:
		r -= 0x10000
		fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
	default:
		fmt.Fprintf(b, `\u%04x`, r)
	}
}

// pyFloatJSON renders f as json.dumps does: float.__repr__ for finite values.
func pyFloatJSON(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return PyFloatRepr(f)
}

// PyFloatRepr is Python's repr(float): the shortest round-tripping digits,
// in fixed notation when the decimal exponent is in [-4, 16) (with ".0"
// when integral) and in scientific notation with a two-digit exponent
// otherwise.
func PyFloatRepr(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // "-d.ddde±XX"
	sign := ""
	if e[0] == '-' {
		sign, e = "-", e[1:]
	}
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	if exp >= -4 && exp < 16 {
		var s string
		switch {
		case exp < 0:
			s = "0." + strings.Repeat("0", -exp-1) + digits
		case exp+1 >= len(digits):
			s = digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
		default:
			s = digits[:exp+1] + "." + digits[exp+1:]
		}
		return sign + s
	}
	m := digits[:1]
	if len(digits) > 1 {
		m += "." + digits[1:]
	}
	es := "+"
	if exp < 0 {
		es, exp = "-", -exp
	}
	return fmt.Sprintf("%s%se%s%02d", sign, m, es, exp)
}
