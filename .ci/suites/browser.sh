#!/usr/bin/env bash
# Extra CI suite: the fleet dashboard in a real browser. Installs Debian's chromium when missing
# and runs server/test/dashboard/dashboard.browser.ts (playwright-core drives chromium against a server
# started in-process on free ports, with simulated terminals connected over MQTT). Screenshots are
# kept as artefacts in $ONECARD_ARTEFACTS (default: artefacts/dashboard in the repository).
set -euo pipefail
cd "$(dirname "$0")/../.."

source .ci/lib/chromium.sh
chromium_setup
chromium_artefacts dashboard

cd server
timeout 600 npx tap --disable-coverage --timeout 300 test/dashboard/dashboard.browser.ts
echo "browser: all checks passed; screenshots in $ONECARD_ARTEFACTS"
