#!/usr/bin/env bash
# Build VoxRad for macOS: PyInstaller .app bundle -> .dmg (drag to Applications).
#
# Run on a Mac (macOS 12+, Apple Silicon or Intel; the build is for the machine's own
# architecture) from the repository root:
#
#   python3.11 -m venv .venv
#   CMAKE_ARGS="-DGGML_METAL=on" .venv/bin/pip install -e ".[app,llama]" "pyinstaller>=6.10"
#   brew install portaudio espeak-ng            # not needed by the app: sounddevice's wheel
#                                               # bundles PortAudio and pyttsx3 uses NSSpeech
#   installers/macos/build.sh [--models DIR]
#
# Signing and notarisation (needed for Gatekeeper on hospital Macs) run when these are set:
#   CODESIGN_IDENTITY="Developer ID Application: Hospital IT (TEAMID)"
#   NOTARY_PROFILE=voxrad-notary   (made once with `xcrun notarytool store-credentials`)
#
# --models DIR bundles a VoxRad models folder (offline sites) into
# VoxRad.app/Contents/Resources/models with a SHA256SUMS that this script verifies after
# copying and that IT can check again after deployment:
#   cd /Applications/VoxRad.app/Contents/Resources/models && shasum -a 256 -c SHA256SUMS
#
# Output: dist/installers/VoxRad-<version>[-offline]-macos-<arch>.dmg
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
MODELS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --models) MODELS=$(cd "$2" && pwd); shift 2 ;;
    *) echo "build.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(uname)" = Darwin ] || { echo "build.sh: run this on macOS" >&2; exit 1; }
VERSION=$("$PYTHON" -c "import sys; sys.path.insert(0, 'app'); import voxrad; print(voxrad.__version__)")
ARCH=$(uname -m)
SUFFIX=""
[ -n "$MODELS" ] && SUFFIX=-offline
OUT=$ROOT/dist/installers
mkdir -p "$OUT"

# Icon: .icns from the committed PNG.
ICONSET=$ROOT/build/voxrad.iconset
rm -rf "$ICONSET"; mkdir -p "$ICONSET"
for size in 16 32 64 128 256; do
  sips -z $size $size assets/icon/voxrad.png --out "$ICONSET/icon_${size}x${size}.png" >/dev/null
  double=$((size * 2))
  [ $double -le 256 ] && sips -z $double $double assets/icon/voxrad.png \
    --out "$ICONSET/icon_${size}x${size}@2x.png" >/dev/null
done
iconutil -c icns "$ICONSET" -o assets/icon/voxrad.icns

START=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller installers/pyinstaller/voxrad.spec
APP=$ROOT/dist/VoxRad.app
CONTENTS=$APP/Contents

# Read-only data: the app looks beside its package folder, i.e. in Contents/ for a bundle
# (Contents/Frameworks is PyInstaller's _MEIPASS). Apple's bundle rules want data in
# Resources, so it goes there with relative links from Contents/.
# TODO(owners of ui/main_window.py and backends/catalog.py): a single core.paths helper for
# "bundled data folder" would let these links go (they make `codesign --strict` complain).
for item in assets models CHANGELOG.md LICENSE VERSION; do
  rm -rf "${CONTENTS:?}/Resources/$item"
  cp -R "dist/voxrad/$item" "$CONTENTS/Resources/$item" 2>/dev/null || cp -R "$item" "$CONTENTS/Resources/$item"
  ln -sfn "Resources/$item" "$CONTENTS/$item"
done
if [ -n "$MODELS" ]; then
  (cd "$MODELS" && find . -type f ! -name SHA256SUMS | sort | while read -r f; do
    mkdir -p "$CONTENTS/Resources/models/$(dirname "$f")"; cp "$f" "$CONTENTS/Resources/models/$f"
  done)
  (cd "$CONTENTS/Resources/models" && find . -type f ! -name SHA256SUMS ! -name catalog.json \
    ! -name README.md | sort | xargs shasum -a 256 > SHA256SUMS && shasum -a 256 -c --quiet SHA256SUMS)
  # The app finds bundled models through the launcher environment (LSEnvironment).
  /usr/libexec/PlistBuddy -c "Add :LSEnvironment dict" "$CONTENTS/Info.plist" 2>/dev/null || true
  /usr/libexec/PlistBuddy -c "Add :LSEnvironment:VOXRAD_MODELS__DIRECTORY string /Applications/VoxRad.app/Contents/Resources/models" "$CONTENTS/Info.plist"
fi
/usr/libexec/PlistBuddy -c "Print :NSMicrophoneUsageDescription" "$CONTENTS/Info.plist" >/dev/null

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
  codesign --force --deep --timestamp --options runtime \
    --entitlements installers/macos/entitlements.plist --sign "$CODESIGN_IDENTITY" "$APP"
  codesign --verify --verbose=2 "$APP"
fi

DMG=$OUT/VoxRad-$VERSION$SUFFIX-macos-$ARCH.dmg
STAGE=$ROOT/build/dmg
rm -rf "$STAGE"; mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
rm -f "$DMG"
hdiutil create -volname "VoxRad $VERSION" -srcfolder "$STAGE" -ov -format UDZO "$DMG"
if [ -n "${CODESIGN_IDENTITY:-}" ]; then
  codesign --timestamp --sign "$CODESIGN_IDENTITY" "$DMG"
  if [ -n "${NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
  fi
fi
echo "built $DMG in $(( $(date +%s) - START )) s ($(du -sh "$APP" | cut -f1) installed)"
