package artifact

import (
	"fmt"
	"time"

	"github.com/nlpodyssey/gopickle/types"
)

// PyObject is an instance of an allowlisted Python class, rebuilt as inert
// data: the class name, the NEWOBJ arguments and the BUILD state. Nothing of
// the class's Python code runs, by construction.
type PyObject struct {
	Module string
	Name   string
	Args   []any
	State  any
}

// PySetState records the BUILD state; a second BUILD is refused because no
// artifact we know of does that and it would let a stream overwrite state.
func (o *PyObject) PySetState(state any) error {
	if o.State != nil {
		return fmt.Errorf("%s.%s built twice", o.Module, o.Name)
	}
	o.State = state
	return nil
}

// StateDict returns the BUILD state as a dict, or nil.
func (o *PyObject) StateDict() *types.Dict {
	d, _ := o.State.(*types.Dict)
	return d
}

// PyDatetime is a naive datetime.datetime (the trainer stores naive UTC).
type PyDatetime struct{ time.Time }

// String renders like Python's str(datetime): microseconds only when non-zero.
func (d PyDatetime) String() string {
	if d.Nanosecond() != 0 {
		return d.Format("2006-01-02 15:04:05.000000")
	}
	return d.Format("2006-01-02 15:04:05")
}

// PyDate is a datetime.date.
type PyDate struct{ time.Time }

// String renders like Python's str(date).
func (d PyDate) String() string { return d.Format("2006-01-02") }

// PyTimedelta is a datetime.timedelta as (days, seconds, microseconds).
type PyTimedelta struct{ Days, Seconds, Microseconds int }
