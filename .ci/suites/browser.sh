#!/usr/bin/env bash
# Extra CI suite: the fleet dashboard in a real browser. Installs Debian's chromium when missing
# and runs server/test/dashboard/browser.e2e.ts (playwright-core drives chromium against a server
# started in-process on free ports, with simulated terminals connected over MQTT). Screenshots are
# kept as artefacts in $ONECARD_ARTEFACTS (default: artefacts/dashboard in the repository).
set -euo pipefail
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
SUDO=''
[ "$(id -u)" -eq 0 ] || SUDO='sudo'
if ! command -v chromium >/dev/null; then
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
export CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium)}"
export ONECARD_ARTEFACTS="${ONECARD_ARTEFACTS:-$PWD/artefacts/dashboard}"
mkdir -p "$ONECARD_ARTEFACTS"
echo "chromium: $("$CHROMIUM_PATH" --version 2>/dev/null || echo unknown), artefacts: $ONECARD_ARTEFACTS"

cd server
timeout 600 npx tap --disable-coverage --timeout 300 test/dashboard/browser.e2e.ts
echo "browser: all checks passed; screenshots in $ONECARD_ARTEFACTS"
