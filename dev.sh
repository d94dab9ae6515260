#!/usr/bin/env bash
# VoxRad developer entry point: one command to set up and run the app, one to set up and test.
#
#   ./dev.sh run [ARGS...]   install what is missing, then start VoxRad (GUI, or a subcommand)
#   ./dev.sh test [PYTEST ARGS...]
#                            install what is missing, then lint, type-check, check layering
#                            and run the whole test suite
#   ./dev.sh setup           install only
#
# Idempotent: system packages are installed only when missing, the virtual environment at
# .venv is reused, and pip runs again only when pyproject.toml or this script changed.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
VENV="$ROOT/.venv"
STAMPS="$ROOT/.setup-stamps"

# Debian/Ubuntu packages. Elsewhere: macOS `brew install portaudio espeak-ng sox`;
# Windows needs none (PortAudio ships in the sounddevice wheel, SAPI5 voices are built in).
APT_PACKAGES=(
  espeak-ng sox libportaudio2 xvfb xauth pulseaudio pulseaudio-utils alsa-utils
  libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 libegl1 libgl1
  libglx-mesa0 libgl1-mesa-dri imagemagick dcmtk pocketsphinx-testdata zstd binutils
  orthanc orthanc-dicomweb
)

log() { printf '[dev.sh] %s\n' "$*" >&2; }

setup_system() {
  if ! command -v apt-get >/dev/null 2>&1; then
    log "no apt-get: install the equivalents of: ${APT_PACKAGES[*]}"
    return 0
  fi
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  log "installing system packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
  for cand in python3.13 python3.12 python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
      echo "$cand"; return 0
    fi
  done
  log "Python 3.11 or newer is required"; exit 1
}

setup_python() {
  local extras="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment at .venv"
    "$(find_python)" -m venv "$VENV"
  fi
  mkdir -p "$STAMPS"
  local want stamp="$STAMPS/pip-$extras"
  want=$(cat pyproject.toml dev.sh | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  log "installing VoxRad[$extras] into .venv"
  "$VENV/bin/python" -m pip install -q --upgrade pip wheel
  if [ "$extras" = dev ] && ! "$VENV/bin/python" -m pip show -q torch >/dev/null 2>&1; then
    # The test suite runs the transformers path on the CPU. Pin the release first so that
    # the extra's plain `torch>=2.4` is already satisfied and pip never picks a multi-GB
    # CUDA build on its own.
    "$VENV/bin/python" -m pip install -q "torch==2.13.0"
  fi
  # llama-cpp-python compiles from source where no wheel fits; a portable build avoids
  # CPU-specific instructions (a native build crashes on some CPUs with SIGILL).
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" \
    "$VENV/bin/python" -m pip install -q -e ".[$extras]"
  echo "$want" > "$stamp"
}

run_tests() {
  local py="$VENV/bin/python"
  log "ruff"
  "$VENV/bin/ruff" check app tests benchmarks
  "$VENV/bin/ruff" format --check app tests benchmarks
  log "mypy (core and Qt-free layers)"
  "$VENV/bin/mypy"
  log "import-linter (layering)"
  "$VENV/bin/lint-imports"
  log "pytest"
  mkdir -p "$ROOT/test-artifacts"
  export VOXRAD_TEST_ARTIFACTS="$ROOT/test-artifacts"
  "$py" -m pytest "$@"
}

cmd="${1:-run}"
shift || true
case "$cmd" in
  setup)
    setup_system
    setup_python dev
    ;;
  run)
    setup_system
    # The app plus its default model engine (llama.cpp; compiles once, 7-12 min on 2 cores).
    setup_python "app,llama"
    exec "$VENV/bin/voxrad" "$@"
    ;;
  test)
    setup_system
    setup_python dev
    run_tests "$@"
    ;;
  *)
    echo "usage: ./dev.sh run [ARGS...] | test [PYTEST ARGS...] | setup" >&2
    exit 2
    ;;
esac
