#!/usr/bin/env bash
# The browser end-to-end test on its own: builds the web version (web/build.sh), installs Debian's
# Chromium and Playwright's driver where missing, serves web/dist on localhost, and runs e2e.mjs.
# Screenshots and summary.json land in $E2E_ARTIFACTS (default web/e2e-artifacts).
# Exits non-zero when any check fails.  SKIP_BUILD=1 reuses an existing web/dist.
set -euo pipefail
cd "$(dirname "$0")/.."
artifacts="${E2E_ARTIFACTS:-web/e2e-artifacts}"

if [ "${SKIP_BUILD:-0}" != 1 ] || [ ! -f web/dist/index.html ]; then
  web/build.sh
fi
. web/serve.sh

rm -rf "$artifacts"
node web/e2e.mjs "$PAGE_URL" "$artifacts"
