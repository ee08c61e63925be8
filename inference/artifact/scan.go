package artifact

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// PickleLimits bounds what the restricted unpickler accepts from an artifact.
// Every limit exists because gopickle trusts the stream: it allocates any
// length a stream declares and indexes a 255-entry opcode table with a byte.
type PickleLimits struct {
	// MaxBytes is the largest artifact file accepted.
	MaxBytes int64
	// MaxDeclaredLength is the largest length one opcode may declare
	// (a string, bytes object or frame).
	MaxDeclaredLength int64
	// MaxDepth bounds MARK nesting in the stream and the nesting of the
	// decoded object graph.
	MaxDepth int
	// MaxNodes bounds how many values the decoder visits, so that shared
	// references cannot fan out into exponential work.
	MaxNodes int
}

// DefaultPickleLimits are generous for real blackheart-train artifacts (a few
// MiB, depth < 20) and small enough that a hostile file cannot exhaust memory.
var DefaultPickleLimits = PickleLimits{
	MaxBytes:          256 << 20,
	MaxDeclaredLength: 128 << 20,
	MaxDepth:          64,
	MaxNodes:          5_000_000,
}

// opArg is how an opcode's inline argument is encoded.
type opArg int

const (
	argNone opArg = iota
	argFixed
	argLen1   // 1-byte length, then that many bytes
	argLen4   // 4-byte little-endian length, then that many bytes
	argLen8   // 8-byte little-endian length, then that many bytes
	argFrame  // 8-byte length of the frame that follows (not skipped)
	argLine   // one newline-terminated line
	argLine2  // two newline-terminated lines
	argRefuse // an opcode artifacts never use and we do not run
)

type opInfo struct {
	name  string
	arg   opArg
	fixed int
}

// pickleOps lists every opcode of protocols 0–5. Opcodes absent from it are
// refused; so are persistent ids, the extension registry and out-of-band
// buffers, which an artifact written by pickle.dumps never contains.
var pickleOps = map[byte]opInfo{
	'(': {"MARK", argNone, 0}, '.': {"STOP", argNone, 0}, '0': {"POP", argNone, 0},
	'1': {"POP_MARK", argNone, 0}, '2': {"DUP", argNone, 0}, 'F': {"FLOAT", argLine, 0},
	'I': {"INT", argLine, 0}, 'J': {"BININT", argFixed, 4}, 'K': {"BININT1", argFixed, 1},
	'L': {"LONG", argLine, 0}, 'M': {"BININT2", argFixed, 2}, 'N': {"NONE", argNone, 0},
	'P': {"PERSID", argRefuse, 0}, 'Q': {"BINPERSID", argRefuse, 0}, 'R': {"REDUCE", argNone, 0},
	'S': {"STRING", argLine, 0}, 'T': {"BINSTRING", argLen4, 0}, 'U': {"SHORT_BINSTRING", argLen1, 0},
	'V': {"UNICODE", argLine, 0}, 'X': {"BINUNICODE", argLen4, 0}, 'a': {"APPEND", argNone, 0},
	'b': {"BUILD", argNone, 0}, 'c': {"GLOBAL", argLine2, 0}, 'd': {"DICT", argNone, 0},
	'}': {"EMPTY_DICT", argNone, 0}, 'e': {"APPENDS", argNone, 0}, 'g': {"GET", argLine, 0},
	'h': {"BINGET", argFixed, 1}, 'i': {"INST", argLine2, 0}, 'j': {"LONG_BINGET", argFixed, 4},
	'l': {"LIST", argNone, 0}, ']': {"EMPTY_LIST", argNone, 0}, 'o': {"OBJ", argNone, 0},
	'p': {"PUT", argLine, 0}, 'q': {"BINPUT", argFixed, 1}, 'r': {"LONG_BINPUT", argFixed, 4},
	's': {"SETITEM", argNone, 0}, 't': {"TUPLE", argNone, 0}, ')': {"EMPTY_TUPLE", argNone, 0},
	'u': {"SETITEMS", argNone, 0}, 'G': {"BINFLOAT", argFixed, 8},
	0x80: {"PROTO", argFixed, 1}, 0x81: {"NEWOBJ", argNone, 0}, 0x82: {"EXT1", argRefuse, 0},
	0x83: {"EXT2", argRefuse, 0}, 0x84: {"EXT4", argRefuse, 0}, 0x85: {"TUPLE1", argNone, 0},
	0x86: {"TUPLE2", argNone, 0}, 0x87: {"TUPLE3", argNone, 0}, 0x88: {"NEWTRUE", argNone, 0},
	0x89: {"NEWFALSE", argNone, 0}, 0x8a: {"LONG1", argLen1, 0}, 0x8b: {"LONG4", argLen4, 0},
	'B': {"BINBYTES", argLen4, 0}, 'C': {"SHORT_BINBYTES", argLen1, 0},
	0x8c: {"SHORT_BINUNICODE", argLen1, 0}, 0x8d: {"BINUNICODE8", argLen8, 0},
	0x8e: {"BINBYTES8", argLen8, 0}, 0x8f: {"EMPTY_SET", argNone, 0}, 0x90: {"ADDITEMS", argNone, 0},
	0x91: {"FROZENSET", argNone, 0}, 0x92: {"NEWOBJ_EX", argNone, 0}, 0x93: {"STACK_GLOBAL", argNone, 0},
	0x94: {"MEMOIZE", argNone, 0}, 0x95: {"FRAME", argFrame, 0}, 0x96: {"BYTEARRAY8", argLen8, 0},
	0x97: {"NEXT_BUFFER", argRefuse, 0}, 0x98: {"READONLY_BUFFER", argRefuse, 0},
}

// popsMark reports whether an opcode consumes the items above the topmost MARK.
func popsMark(op byte) bool {
	switch op {
	case '1', 'd', 'e', 'i', 'l', 'o', 't', 'u', 0x90, 0x91:
		return true
	}
	return false
}

// scanPickle walks the opcode stream without building anything and checks
// that it is well formed and within limits: every opcode known, every
// declared length within the limit and within the bytes that remain, MARK
// nesting bounded, and exactly one STOP at the very end. Only a stream that
// passes is handed to gopickle.
func scanPickle(data []byte, lim PickleLimits) error {
	sc := &scanner{data: data, lim: lim}
	for sc.pos < len(data) {
		op := data[sc.pos]
		info, ok := pickleOps[op]
		if !ok {
			return fmt.Errorf("unknown opcode 0x%02x at offset %d", op, sc.pos)
		}
		sc.pos++
		if err := sc.skipArgument(info); err != nil {
			return err
		}
		if done, err := sc.track(op, info); done || err != nil {
			return err
		}
	}
	return fmt.Errorf("stream ends without STOP")
}

// scanner is scanPickle's position in the stream and MARK depth.
type scanner struct {
	data       []byte
	pos, depth int
	lim        PickleLimits
}

// need checks that k bytes may be declared and remain.
func (sc *scanner) need(k int64, what string) error {
	if k < 0 || k > sc.lim.MaxDeclaredLength {
		return fmt.Errorf("%s declares %d bytes at offset %d (limit %d)", what, k, sc.pos, sc.lim.MaxDeclaredLength)
	}
	if k > int64(len(sc.data)-sc.pos) {
		return fmt.Errorf("%s declares %d bytes at offset %d but only %d remain", what, k, sc.pos, len(sc.data)-sc.pos)
	}
	return nil
}

// skipArgument moves past the opcode's argument.
func (sc *scanner) skipArgument(info opInfo) error {
	switch info.arg {
	case argRefuse:
		return fmt.Errorf("opcode %s at offset %d is not allowed in artifacts", info.name, sc.pos-1)
	case argFixed:
		if err := sc.need(int64(info.fixed), info.name); err != nil {
			return err
		}
		sc.pos += info.fixed
	case argLen1, argLen4, argLen8, argFrame:
		return sc.skipCounted(info)
	case argLine, argLine2:
		lines := 1
		if info.arg == argLine2 {
			lines = 2
		}
		for i := 0; i < lines; i++ {
			nl := bytes.IndexByte(sc.data[sc.pos:], '\n')
			if nl < 0 {
				return fmt.Errorf("%s at offset %d has no terminating newline", info.name, sc.pos)
			}
			sc.pos += nl + 1
		}
	}
	return nil
}

// skipCounted reads a 1-, 4- or 8-byte length and skips that many bytes (a
// frame's body is scanned as opcodes, so only its length is skipped).
func (sc *scanner) skipCounted(info opInfo) error {
	width := map[opArg]int{argLen1: 1, argLen4: 4, argLen8: 8, argFrame: 8}[info.arg]
	if err := sc.need(int64(width), info.name); err != nil {
		return err
	}
	var length int64
	switch width {
	case 1:
		length = int64(sc.data[sc.pos])
	case 4:
		length = int64(int32(binary.LittleEndian.Uint32(sc.data[sc.pos:])))
	case 8:
		u := binary.LittleEndian.Uint64(sc.data[sc.pos:])
		if u > uint64(sc.lim.MaxDeclaredLength) {
			return fmt.Errorf("%s declares %d bytes at offset %d (limit %d)", info.name, u, sc.pos, sc.lim.MaxDeclaredLength)
		}
		length = int64(u)
	}
	sc.pos += width
	if err := sc.need(length, info.name); err != nil {
		return err
	}
	if info.arg != argFrame {
		sc.pos += int(length)
	}
	return nil
}

// track follows MARK nesting and STOP; done is true at a well-placed STOP.
func (sc *scanner) track(op byte, info opInfo) (done bool, err error) {
	switch {
	case op == '(':
		sc.depth++
		if sc.depth > sc.lim.MaxDepth {
			return false, fmt.Errorf("MARK nesting exceeds %d at offset %d", sc.lim.MaxDepth, sc.pos-1)
		}
	case popsMark(op):
		if sc.depth == 0 {
			return false, fmt.Errorf("%s without a MARK at offset %d", info.name, sc.pos-1)
		}
		sc.depth--
	case op == '.':
		if sc.pos != len(sc.data) {
			return false, fmt.Errorf("STOP at offset %d leaves %d trailing bytes", sc.pos-1, len(sc.data)-sc.pos)
		}
		return true, nil
	}
	return false, nil
}
