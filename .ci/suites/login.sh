#!/usr/bin/env bash
# Extra CI suite: logging in to a portal with the card (issue 14, docs/login.md) end to end in a real
# browser. Installs Debian's chromium when missing and runs terminal/test/login/*.browser.ts: an
# openid-client relying party runs the code + PKCE flow against the fleet server's OpenID Provider
# (started in-process); the holder's browser shows the provider's login page and its code; a real
# `onecard-terminal run --data-dir` process on a simulated reader is driven through the kiosk page
# (code, portal name, card, PIN) and the portal receives an ID token whose signature and claims are
# checked against the card. axe-core audits every kiosk login screen; the terminal's and the
# simulator's output is scanned for the PIN and the full ID number. The e-card path
# (terminal/test/login/ecard.browser.ts): the holder chooses the e-card method on the provider's
# login page, the simulators' e-card app scans the page's QR code and confirms with SM2, consent,
# ID token (acr substantial, amr swk, pairwise sub, allowed claims only); refusals shown on the page
# (unknown key, unregistered e-card, out-of-date and replayed confirmations, hotlisted card). Screenshots in
# $ONECARD_ARTEFACTS (default: artefacts/login in the repository).
set -euo pipefail
cd "$(dirname "$0")/../.."

source .ci/lib/chromium.sh
chromium_setup --cjk
chromium_artefacts login

cd terminal
timeout 600 npx tap --disable-coverage --timeout 480 test/login/*.browser.ts
echo "login: all checks passed; screenshots in $ONECARD_ARTEFACTS"
