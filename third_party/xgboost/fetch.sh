#!/usr/bin/env bash
# Copies libxgboost.so and the OpenMP runtime it bundles out of the pinned
# xgboost-cpu wheel in the project virtualenv, keeping the wheel's relative
# layout so the library's own RPATH ($ORIGIN/../../xgboost_cpu.libs) still
# finds its libgomp. Nothing is downloaded here: pip fetched the wheel.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${1:?usage: fetch.sh PATH_TO_VENV_PYTHON}
want=$(tr -d '[:space:]' < "$here/VERSION")
site=$("$python" -c 'import importlib.util, os; print(os.path.dirname(os.path.dirname(importlib.util.find_spec("xgboost").origin)))')
have=$("$python" -c 'import importlib.metadata as m; print(m.version("xgboost-cpu"))')
if [ "$have" != "$want" ]; then
  echo "fetch.sh: venv has xgboost-cpu $have, third_party/xgboost/VERSION pins $want" >&2
  exit 1
fi
if [ "$(uname -sm)" = "Linux x86_64" ]; then
  (cd "$site" && sha256sum --quiet -c "$here/sha256sums") || { echo "fetch.sh: wheel files differ from the pinned sha256" >&2; exit 1; }
fi
while read -r _ rel; do
  mkdir -p "$here/lib/$(dirname "$rel")"
  cp "$site/$rel" "$here/lib/$rel.tmp"
  mv -f "$here/lib/$rel.tmp" "$here/lib/$rel"
done < "$here/sha256sums"
echo "libxgboost.so $have -> $here/lib"
