#!/usr/bin/env bash
# Extra CI suite: the terminal's kiosk and desk screens in a real browser. Installs Debian's
# chromium when missing and runs terminal/test/screens/*.browser.ts: playwright-core drives
# chromium against a real `onecard-terminal run --data-dir` process (enrolled with a fleet server
# started in-process) on a simulated reader; axe-core audits every screen; the terminal's and the
# simulator's output is scanned for PINs, keys and full ID numbers. Screenshots and the axe
# summary are kept in $ONECARD_ARTEFACTS (default: artefacts/screens in the repository).
set -euo pipefail
cd "$(dirname "$0")/../.."

source .ci/lib/chromium.sh
chromium_setup --cjk
chromium_artefacts screens

cd terminal
timeout 1200 npx tap --disable-coverage --timeout 900 test/screens/*.browser.ts
echo "screens: all checks passed; screenshots in $ONECARD_ARTEFACTS"
