# Sourced (from the repository root) by the browser suites .ci/suites/{browser,login-pages,login,screens}.sh:
# the one definition of their Chromium set-up.
#   chromium_setup [--cjk]   installs Debian's chromium when missing (with --cjk also the Noto CJK
#                            fonts the zh-CN screens need) and exports CHROMIUM_PATH (kept when set)
#   chromium_artefacts NAME  exports ONECARD_ARTEFACTS (default: artefacts/NAME in the repository),
#                            creates it and prints the chromium version and the artefacts directory

chromium_setup() {
  export DEBIAN_FRONTEND=noninteractive
  local sudo=''
  [ "$(id -u)" -eq 0 ] || sudo='sudo'
  if ! command -v chromium >/dev/null; then
    $sudo apt-get update -qq >/dev/null
    $sudo apt-get install -y -qq chromium >/dev/null
  fi
  if [ "${1:-}" = '--cjk' ]; then
    # CJK glyphs for the zh-CN screens (otherwise screenshots show empty boxes)
    if ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then
      $sudo apt-get install -y -qq fonts-noto-cjk >/dev/null || { $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq fonts-noto-cjk >/dev/null; }
    fi
  fi
  export CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium)}"
}

chromium_artefacts() {
  export ONECARD_ARTEFACTS="${ONECARD_ARTEFACTS:-$PWD/artefacts/$1}"
  mkdir -p "$ONECARD_ARTEFACTS"
  echo "chromium: $("$CHROMIUM_PATH" --version 2>/dev/null || echo unknown), artefacts: $ONECARD_ARTEFACTS"
}
