#!/usr/bin/env bash
# sdk/js/build.sh: the JavaScript SDK's dependencies, native tests and components.
#   sdk/js/build.sh            npm ci + npm test + every example + every test guest
#   sdk/js/build.sh test       npm ci + npm test only
#   sdk/js/build.sh examples   npm ci + every examples/<tool>/<tool>.ts
#   sdk/js/build.sh guests     npm ci + every tests/guests/js/<name>.ts
#   sdk/js/build.sh hello      npm ci + one example or test guest, by name
# Dependencies: sdk/js/node_modules (npm ci from package-lock.json, again only
# when the lock or package.json changed); dist/ is compiled by tsc.
# Components: examples into target/js-plugins/<tool>.wasm (JS_PLUGINS_DIR),
# test guests into target/test-plugins/<name>.wasm (JS_TEST_PLUGINS_DIR).
# A component newer than its sources (the module and the files beside it),
# the SDK's sources and its dependencies is not built again (componentize-js
# takes ~15 s a component); FORCE=1 builds it anyway.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
stamp="$here/node_modules/.taylordash-stamp"
out="${JS_PLUGINS_DIR:-$root/target/js-plugins}"
guests_src="$root/tests/guests/js"
guests_out="${JS_TEST_PLUGINS_DIR:-$root/target/test-plugins}"

command -v node >/dev/null && command -v npm >/dev/null || { echo "build.sh: node and npm not found; install Node.js 20.6+" >&2; exit 1; }
if [ ! -e "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ] || [ "$here/package.json" -nt "$stamp" ]; then
  echo "build.sh: npm ci into sdk/js/node_modules (package-lock.json)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
# dist/ from src/ (npm ci's prepare compiled it; again when a source changed).
if [ ! -e "$here/dist/index.js" ] || [ -n "$(find "$here/src" "$here/tsconfig.json" -newer "$here/dist/index.js" -print -quit)" ]; then
  (cd "$here" && node node_modules/typescript/bin/tsc -p tsconfig.json)
  touch "$here/dist/index.js"
fi

# build MODULE WASM SOURCE...: componentize MODULE into WASM unless WASM is
# newer than every SOURCE (files or directories, searched recursively), the
# SDK's sources and its dependencies.
build() {
  local module="$1" wasm="$2"
  shift 2
  if [ "${FORCE:-0}" != 1 ] && [ -e "$wasm" ] &&
    [ -z "$(find "$@" "$here/src" "$here/wit" "$here/package.json" "$stamp" -newer "$wasm" \
      -not -name '*.test.ts' -print -quit 2>/dev/null)" ]; then
    echo "build.sh: ${wasm#"$root"/} is up to date"
    return
  fi
  mkdir -p "$(dirname "$wasm")"
  node "$here/dist/cli.js" build "$module" -o "$wasm"
}

what="${1:-all}"
if [ "$what" = all ] || [ "$what" = test ]; then
  (cd "$here" && npm test --silent)
fi
[ "$what" = test ] && exit 0

found=0
for dir in "$here"/examples/*/; do
  tool="$(basename "$dir")"
  [ -e "$dir/$tool.ts" ] || continue
  [ "$what" = all ] || [ "$what" = examples ] || [ "$what" = "$tool" ] || continue
  found=1
  build "$dir/$tool.ts" "$out/$tool.wasm" "$dir"
done
for module in "$guests_src"/*.ts; do
  [ -e "$module" ] || continue
  name="$(basename "$module" .ts)"
  [ "$what" = all ] || [ "$what" = guests ] || [ "$what" = "$name" ] || continue
  found=1
  build "$module" "$guests_out/$name.wasm" "$module"
done
if [ "$found" = 0 ] && [ "$what" != all ] && [ "$what" != examples ] && [ "$what" != guests ]; then
  echo "build.sh: no example or test guest named \`$what\`" >&2
  exit 2
fi
