#!/usr/bin/env bash
# Vendor Apache ECharts into the dashboard's static files from the npm registry (run by hand
# when bumping the pin; the page never loads anything from outside the service). Checks the
# tarball against the registry's integrity, keeps the licences beside the file, and writes
# VERSION (version, tarball sha512, file sha256: tests/dashboard/test_assets.py checks it).
#   scripts/vendor-echarts.sh 6.1.0
set -euo pipefail
version="${1:?usage: scripts/vendor-echarts.sh VERSION}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/services/gateway/dashboard_static/vendor/echarts"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "echarts@$version" "zrender@$version" >/dev/null
integrity="$(npm view "echarts@$version" dist.integrity)"
actual="sha512-$(openssl dgst -sha512 -binary "echarts-$version.tgz" | base64 -w0)"
[ "$integrity" = "$actual" ] || { echo "echarts-$version.tgz: integrity mismatch" >&2; exit 1; }
tar xzf "echarts-$version.tgz" package/dist/echarts.common.min.js package/LICENSE package/NOTICE \
  package/licenses/LICENSE-d3
mkdir zr && tar xzf "zrender-$version.tgz" -C zr package/LICENSE
rm -rf "$dest" && mkdir -p "$dest"
cp package/dist/echarts.common.min.js "$dest/"
cp package/LICENSE "$dest/LICENSE"
cp package/NOTICE "$dest/NOTICE"
cp package/licenses/LICENSE-d3 "$dest/LICENSE-d3"
cp zr/package/LICENSE "$dest/LICENSE-zrender"
sha256="$(sha256sum "$dest/echarts.common.min.js" | cut -d' ' -f1)"
cat > "$dest/VERSION" <<VERSION
echarts $version (npm), dist/echarts.common.min.js
tarball $integrity
sha256 $sha256
VERSION
echo "vendored echarts $version into $dest" >&2
