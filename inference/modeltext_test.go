package inference_test

import (
	"context"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/inference/inferencetest"
)

// TestModelTextFieldsDoNotPinTheText: the header fields a loaded model
// keeps are copies, not substrings of the model text, which would keep the
// whole text (megabytes) resident for as long as the model is loaded and
// uncounted by the cache's budget; measured, that doubled a 400-tree
// model's footprint.
func TestModelTextFieldsDoNotPinTheText(t *testing.T) {
	art, err := inferencetest.Store().Load(context.Background(), inferencetest.CaseNamed(t, "trees500").SHA)
	require.NoError(t, err)
	require.NotNil(t, art.ModelText)
	text := art.ModelText.Text
	mt, err := inference.ParseModelText(text)
	require.NoError(t, err)
	lo := uintptr(unsafe.Pointer(unsafe.StringData(text)))
	hi := lo + uintptr(len(text))
	inText := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return len(s) > 0 && p >= lo && p < hi
	}
	require.NotEmpty(t, mt.FeatureNames)
	for _, s := range append([]string{mt.Version, mt.Objective}, mt.FeatureNames...) {
		assert.False(t, inText(s), "%q is a substring of the model text", s)
	}
}
