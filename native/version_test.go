package native_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rfkih/blackheart-inference/native"
)

func TestPinnedVersionsMatchThirdParty(t *testing.T) {
	for file, want := range map[string]string{"../third_party/lightgbm/VERSION": native.LightGBMVersion,
		"../third_party/xgboost/VERSION": native.XGBoostVersion} {
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Equal(t, strings.TrimSpace(string(raw)), want, file)
	}
}
