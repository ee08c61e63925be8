package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// The feature reads return hundreds of thousands of rows of the same four
// binary columns. Decoding them straight from the wire (bool, int4,
// timestamptz, float8) skips pgx's per-row scan plans; the bytes are
// PostgreSQL's binary formats, so the values are the same bits pgx's Scan
// gives. A result not in binary format falls back to Scan.

// pgEpochUnixMicros is 2000-01-01T00:00:00Z, PostgreSQL's timestamp epoch.
const pgEpochUnixMicros = 946684800 * 1_000_000

var errRawColumn = errors.New("unexpected column encoding")

func binaryResult(fields []pgconn.FieldDescription) bool {
	for _, f := range fields {
		if f.Format != pgx.BinaryFormatCode {
			return false
		}
	}
	return true
}

func rawBool(b []byte) (bool, error) {
	if len(b) != 1 {
		return false, errRawColumn
	}
	return b[0] != 0, nil
}

func rawInt4(b []byte) (int, error) {
	if len(b) != 4 {
		return 0, errRawColumn
	}
	return int(int32(binary.BigEndian.Uint32(b))), nil
}

func rawFloat8(b []byte) (float64, error) {
	if len(b) != 8 {
		return 0, errRawColumn
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

// rawTimestamptz reads a finite timestamptz (microseconds since 2000-01-01
// UTC) as a UTC time.
func rawTimestamptz(b []byte) (time.Time, error) {
	if len(b) != 8 {
		return time.Time{}, errRawColumn
	}
	us := int64(binary.BigEndian.Uint64(b))
	if us == math.MaxInt64 || us == math.MinInt64 {
		return time.Time{}, fmt.Errorf("%w: an infinite timestamp", errRawColumn)
	}
	return time.UnixMicro(pgEpochUnixMicros + us).UTC(), nil
}

// forEachValueRow calls fn for each row of (col int4, ts timestamptz,
// value) columns starting at first, with the leading bool column when first
// is 1: the one reader of every feature-value query. The value is a
// NUMERIC, converted here exactly as PostgreSQL's value::float8 would
// (rawNumericFloat8), or a float8. A result that is not in binary format is
// read with pgx's Scan instead.
func forEachValueRow(rows pgx.Rows, first int, fn func(flag bool, col int, ts time.Time, v float64) error) error {
	defer rows.Close()
	fields := rows.FieldDescriptions()
	if !binaryResult(fields) {
		return scanValueRows(rows, first, fn)
	}
	value := rawFloat8
	if len(fields) == first+3 && fields[first+2].DataTypeOID == pgtype.NumericOID {
		value = rawNumericFloat8
	}
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw) != first+3 {
			return errRawColumn
		}
		var flag bool
		var err error
		if first == 1 {
			if flag, err = rawBool(raw[0]); err != nil {
				return err
			}
		}
		col, err := rawInt4(raw[first])
		if err != nil {
			return err
		}
		ts, err := rawTimestamptz(raw[first+1])
		if err != nil {
			return err
		}
		v, err := value(raw[first+2])
		if err != nil {
			return err
		}
		if err := fn(flag, col, ts, v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// scanValueRows is forEachValueRow through pgx's Scan; a NUMERIC value is
// scanned as its decimal digits and converted as rawNumericFloat8 does.
func scanValueRows(rows pgx.Rows, first int, fn func(flag bool, col int, ts time.Time, v float64) error) error {
	var flag bool
	var col int
	var ts time.Time
	var v float64
	var n pgtype.Numeric
	fields := rows.FieldDescriptions()
	numeric := len(fields) == first+3 && fields[first+2].DataTypeOID == pgtype.NumericOID
	dest := []any{&col, &ts, &v}
	if numeric {
		dest[2] = &n
	}
	if first == 1 {
		dest = append([]any{&flag}, dest...)
	}
	_, err := pgx.ForEachRow(rows, dest, func() error {
		if numeric {
			var err error
			if v, err = numericFloat8(n); err != nil {
				return err
			}
		}
		return fn(flag, col, ts, v)
	})
	return err
}
