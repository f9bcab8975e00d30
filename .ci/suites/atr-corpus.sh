#!/usr/bin/env bash
# Extra CI suite: the pcsc-tools ATR list (smartcard_list.txt, ~5000 real ATRs, test data only) goes
# through the ATR analyser in lenient and strict mode; fails on any crash (non-ProtocolError).
set -euo pipefail
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
SUDO=''
[ "$(id -u)" -eq 0 ] || SUDO='sudo'
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq pcsc-tools >/dev/null

node --import tsx terminal/test/corpus/atr-corpus.ts /usr/share/pcsc/smartcard_list.txt
