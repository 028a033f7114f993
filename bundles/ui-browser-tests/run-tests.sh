#!/usr/bin/env bash
# Runs the browser and openai-client tests against a Loadstone started from target/ui-test.jar.
# Installs what it needs: Debian's chromium (when missing and apt-get is usable) and the pinned
# npm packages (npm ci). Without a Chromium the browser tests are skipped with the reason; the
# openai-client tests still run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ui-browser-tests: installing node and npm with apt-get" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
fi
command -v node >/dev/null 2>&1 || { echo "ui-browser-tests: node is needed (Node.js 20 or newer)" >&2; exit 1; }
major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 20 ] || { echo "ui-browser-tests: Node.js $(node -v) is too old; playwright-core needs 20 or newer" >&2; exit 1; }

CHROMIUM="${LOADSTONE_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ui-browser-tests: installing chromium with apt-get" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "ui-browser-tests: apt-get could not install chromium" >&2
fi
if [ -x "$CHROMIUM" ]; then
  export LOADSTONE_CHROMIUM="$CHROMIUM"
else
  export LOADSTONE_NO_CHROMIUM="no Chromium at $CHROMIUM and it could not be installed (needs root and apt-get: apt-get install chromium)"
  echo "ui-browser-tests: SKIPPING browser tests: $LOADSTONE_NO_CHROMIUM" >&2
fi

npm ci --no-audit --no-fund --loglevel=error
# spec for people, JUnit XML where the build's test summary looks (target/test-reports/**/TEST-*.xml).
reports="${LOADSTONE_TARGET:-target}/test-reports/node"
mkdir -p "$reports"
exec node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=junit --test-reporter-destination="$reports/TEST-ui-browser-tests.xml" test/
