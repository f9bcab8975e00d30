#!/usr/bin/env bash
# Extra CI suite: the terminal's kiosk and desk screens in a real browser. Installs Debian's
# chromium when missing and runs terminal/test/screens/*.browser.ts: playwright-core drives
# chromium against a real `onecard-terminal run --data-dir` process (enrolled with a fleet server
# started in-process) on a simulated reader; axe-core audits every screen; the terminal's and the
# simulator's output is scanned for PINs, keys and full ID numbers. Screenshots and the axe
# summary are kept in $ONECARD_ARTEFACTS (default: artefacts/screens in the repository).
set -euo pipefail
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
SUDO=''
[ "$(id -u)" -eq 0 ] || SUDO='sudo'
if ! command -v chromium >/dev/null; then
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
# CJK glyphs for the zh-CN screens (otherwise screenshots show empty boxes)
if ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then
  $SUDO apt-get install -y -qq fonts-noto-cjk >/dev/null || { $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq fonts-noto-cjk >/dev/null; }
fi
export CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium)}"
export ONECARD_ARTEFACTS="${ONECARD_ARTEFACTS:-$PWD/artefacts/screens}"
mkdir -p "$ONECARD_ARTEFACTS"
echo "chromium: $("$CHROMIUM_PATH" --version 2>/dev/null || echo unknown), artefacts: $ONECARD_ARTEFACTS"

cd terminal
timeout 1200 npx tap --disable-coverage --timeout 900 test/screens/*.browser.ts
echo "screens: all checks passed; screenshots in $ONECARD_ARTEFACTS"
