#!/usr/bin/env bash
# Copies lib_lightgbm.so out of the pinned lightgbm wheel installed in the
# project's virtualenv, so that cgo links against the very binary Python's
# Booster.predict calls. Nothing is downloaded here: pip already fetched the
# wheel from PyPI (see requirements.txt).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${1:?usage: fetch.sh PATH_TO_VENV_PYTHON}
want=$(tr -d '[:space:]' < "$here/VERSION")
pkg=$("$python" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("lightgbm").origin))')
have=$(tr -d '[:space:]' < "$pkg/VERSION.txt")
if [ "$have" != "$want" ]; then
  echo "fetch.sh: venv has lightgbm $have, third_party/lightgbm/VERSION pins $want" >&2
  exit 1
fi
src="$pkg/lib/lib_lightgbm.so"
mkdir -p "$here/lib"
if [ "$(uname -sm)" = "Linux x86_64" ]; then
  sum=$(sha256sum "$src" | cut -d' ' -f1)
  pinned=$(cut -d' ' -f1 < "$here/lib_lightgbm.so.sha256")
  if [ "$sum" != "$pinned" ]; then
    echo "fetch.sh: $src has sha256 $sum, pinned $pinned" >&2
    exit 1
  fi
fi
# cp to a temp name then rename: a test binary mapping the old file never sees a torn one.
cp "$src" "$here/lib/.lib_lightgbm.so.tmp"
mv -f "$here/lib/.lib_lightgbm.so.tmp" "$here/lib/lib_lightgbm.so"
echo "lib_lightgbm.so $have -> $here/lib"
