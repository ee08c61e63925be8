//go:build cgo && !purego

package native

// CheckHeap and the C byte counts are the load accounting's test hooks.
var CheckHeap = checkHeap

func (m *LightGBM) CBytes() int64 { return m.cBytes }
func (m *XGBoost) CBytes() int64  { return m.cBytes }
