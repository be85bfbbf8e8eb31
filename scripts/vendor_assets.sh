#!/usr/bin/env bash
# Vendor the dashboard's charting library into the package's static files (no CDN at run time).
#
# uPlot (MIT): a ~50 KB canvas time-series chart library with no dependencies, made for many points
# (a function's calls and p50/p95/p99 over thousands of intervals draw at once). Chart.js does more
# kinds of chart but is four times the size; the dashboard's bars and shares are plain HTML/CSS, so
# time series are all it needs a library for.
#
# Usage: scripts/vendor_assets.sh [VERSION]   (default: the version pinned below)
# Fetches the package with `npm pack` into a temp folder, copies the built files and the LICENSE
# to src/codewitness/server/static/vendor/uplot/, and records the version and SHA-256 of each file
# in VENDORED.txt there. Commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-1.6.32}"
target="src/codewitness/server/static/vendor/uplot"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "uplot@$version" >/dev/null)
tar -xzf "$work"/uplot-"$version".tgz -C "$work"
mkdir -p "$target"
cp "$work/package/dist/uPlot.iife.min.js" "$target/uPlot.iife.min.js"
cp "$work/package/dist/uPlot.min.css" "$target/uPlot.min.css"
cp "$work/package/LICENSE" "$target/LICENSE"
{
  echo "uplot $version (npm), vendored by scripts/vendor_assets.sh"
  (cd "$target" && sha256sum uPlot.iife.min.js uPlot.min.css LICENSE)
} >"$target/VENDORED.txt"
cat "$target/VENDORED.txt"
