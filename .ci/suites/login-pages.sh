#!/usr/bin/env bash
# Extra CI suite: the card-login pages in a real browser (docs/login.md). Installs Debian's
# chromium when missing and runs server/test/oidc/pages.browser.ts: the dashboard's Portals
# page registers a portal; the provider's login page (CSP, QR, zh/en) continues to the consent
# screen after a terminal assertion; axe-core finds no serious or critical violation. Under a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."

source .ci/lib/chromium.sh
chromium_setup
export CHROMIUM="$CHROMIUM_PATH"

cd server
timeout 300 npx tsx test/oidc/pages.browser.ts
