#!/usr/bin/env bash
# Build VoxRad for Linux: PyInstaller one-folder app -> tarball + .deb.
#
#   installers/linux/build.sh [--out DIR] [--models DIR] [--variant NAME]
#                             [--reuse-dist] [--no-tarball] [--no-deb]
#
#   --out DIR       where the tarball, .deb and build-info.json go (default dist/installers)
#   --models DIR    offline-site variant: bundle the models in DIR (a VoxRad models folder,
#                   e.g. one filled by `voxrad models pull` on a connected machine). Their
#                   sha256 go into models/SHA256SUMS and are verified when the .deb installs
#                   (and by `sha256sum -c` for the tarball). Default variant name: "offline".
#   --variant NAME  suffix of the package name and files (voxrad-NAME, ...)
#   --work DIR      where PyInstaller's dist/ and build/ folders go (default: the checkout)
#   --reuse-dist    package the existing WORK/dist/voxrad instead of running PyInstaller again
#   --no-tarball, --no-deb   skip one of the two packages
#
# Environment: PYTHON (default .venv/bin/python, which must have pyinstaller installed),
# DEB_COMPRESSION (zstd, xz or gzip; default zstd: about 7 s here against 2 minutes for gzip,
# and smaller; dpkg reads zstd from Debian 12 / Ubuntu 22.04 on: use gzip for older releases),
# TAR_COMPRESSION (gzip, xz or zstd; default gzip: every tar reads it).
#
# Prints a summary and writes OUT/build-info.json with the timings and sizes.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
OUT=$ROOT/dist/installers
WORK=$ROOT
MODELS=""
VARIANT=""
REUSE=0
TARBALL=1
DEB=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    --models) MODELS=$(realpath "$2"); shift 2 ;;
    --variant) VARIANT=$2; shift 2 ;;
    --work) WORK=$(realpath -m "$2"); shift 2 ;;
    --reuse-dist) REUSE=1; shift ;;
    --no-tarball) TARBALL=0; shift ;;
    --no-deb) DEB=0; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -n "$MODELS" ] && [ -z "$VARIANT" ]; then VARIANT=offline; fi
case "$VARIANT" in ""|[a-z0-9]*) ;; *) echo "build.sh: variant must be lower-case" >&2; exit 2 ;; esac

log() { printf '[build.sh] %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
  log "PyInstaller is missing: $PYTHON -m pip install 'pyinstaller>=6.10'"; exit 1
fi
VERSION=$("$PYTHON" -c "import sys; sys.path.insert(0, 'app'); import voxrad; print(voxrad.__version__)")
ARCH=$(uname -m)
DEB_ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
PKG=voxrad${VARIANT:+-$VARIANT}
STEM=$PKG-$VERSION-linux-$ARCH
DIST=$WORK/dist/voxrad
STAGE=$WORK/build/linux-stage-$PKG
mkdir -p "$OUT"

# 1. Freeze.
T0=$(now)
if [ "$REUSE" -eq 0 ] || [ ! -x "$DIST/voxrad" ]; then
  log "PyInstaller (one-folder build)"
  "$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$WORK/dist" --workpath "$WORK/build/pyinstaller" \
    installers/pyinstaller/voxrad.spec
fi
PYI_S=$(elapsed "$T0")
"$DIST/voxrad" --version >/dev/null || { log "the frozen app does not start"; exit 1; }

# 2. Stage /opt/voxrad (+ models for the offline variant).
rm -rf "$STAGE"
mkdir -p "$STAGE/root/opt" "$STAGE/root/usr/bin" "$STAGE/root/usr/share/applications" \
  "$STAGE/root/usr/share/icons/hicolor/256x256/apps" "$STAGE/root/usr/share/icons/hicolor/scalable/apps" \
  "$STAGE/root/usr/share/doc/$PKG"
APPDIR=$STAGE/root/opt/voxrad
# Hard links: staging a 1 GB folder costs no copy.
cp -al "$DIST" "$APPDIR"
if [ -n "$MODELS" ]; then
  log "bundling models from $MODELS"
  [ -d "$MODELS" ] || { log "--models: $MODELS is not a folder"; exit 1; }
  if [ -f "$MODELS/SHA256SUMS" ]; then
    # A folder delivered with its own checksums is checked before anything is packed.
    (cd "$MODELS" && sha256sum --quiet --strict -c SHA256SUMS) ||
      { log "the models in $MODELS do not match their SHA256SUMS"; exit 1; }
  fi
  (cd "$MODELS" && find . -type f ! -name SHA256SUMS -print0 | sort -z |
    while IFS= read -r -d '' f; do
      mkdir -p "$APPDIR/models/$(dirname "$f")"; cp -l "$f" "$APPDIR/models/$f" 2>/dev/null || cp "$f" "$APPDIR/models/$f"
    done)
  (cd "$APPDIR/models" && find . -type f ! -name SHA256SUMS ! -name catalog.json ! -name README.md -print0 |
    sort -z | xargs -0 -r sha256sum > SHA256SUMS)
  [ -s "$APPDIR/models/SHA256SUMS" ] || { log "--models: no files in $MODELS"; exit 1; }
fi
cp installers/linux/voxrad.sh "$STAGE/root/usr/bin/voxrad"
chmod 755 "$STAGE/root/usr/bin/voxrad"
cp installers/linux/voxrad.desktop "$STAGE/root/usr/share/applications/voxrad.desktop"
cp assets/icon/voxrad.png "$STAGE/root/usr/share/icons/hicolor/256x256/apps/voxrad.png"
cp assets/icon/voxrad.svg "$STAGE/root/usr/share/icons/hicolor/scalable/apps/voxrad.svg"
cp LICENSE "$STAGE/root/usr/share/doc/$PKG/copyright"
APP_BYTES=$(du -sb "$APPDIR" | cut -f1)

# 3. Tarball: the app folder + desktop entry and icon, runs from wherever it is unpacked.
TAR_S=0
TARFILE=""
if [ "$TARBALL" -eq 1 ]; then
  T0=$(now)
  log "tarball"
  TSTAGE=$STAGE/tar/$STEM
  mkdir -p "$(dirname "$TSTAGE")"
  cp -al "$APPDIR" "$TSTAGE"
  mkdir -p "$TSTAGE/share/applications" "$TSTAGE/share/icons"
  cp installers/linux/voxrad.desktop "$TSTAGE/share/applications/"
  cp assets/icon/voxrad.png assets/icon/voxrad.svg "$TSTAGE/share/icons/"
  case "${TAR_COMPRESSION:-gzip}" in
    zstd) TARFILE=$OUT/$STEM.tar.zst; tar -C "$STAGE/tar" -cf - "$STEM" | zstd -q -T0 > "$TARFILE" ;;
    xz) TARFILE=$OUT/$STEM.tar.xz; tar -C "$STAGE/tar" -cf - "$STEM" | xz -T0 -6 > "$TARFILE" ;;
    *) TARFILE=$OUT/$STEM.tar.gz; tar -C "$STAGE/tar" -cf - "$STEM" | gzip -6 > "$TARFILE" ;;
  esac
  TAR_S=$(elapsed "$T0")
fi

# 4. .deb (per-machine install under /opt/voxrad, /usr/bin/voxrad, menu entry, icon).
DEB_S=0
DEBFILE=""
if [ "$DEB" -eq 1 ]; then
  T0=$(now)
  log ".deb"
  mkdir -p "$STAGE/root/DEBIAN"
  INSTALLED_KIB=$(du -sk --exclude=DEBIAN "$STAGE/root" | cut -f1)
  OTHER=voxrad
  [ -z "$VARIANT" ] && OTHER=voxrad-offline
  # The frozen app needs at least the C library it was built against.
  LIBC=$(dpkg-query -W -f='${Version}' libc6 2>/dev/null | sed 's/-.*//')
  sed -e "s/@LIBC@/${LIBC:-2.31}/" -e "s/@PACKAGE@/$PKG/" -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$DEB_ARCH/" \
      -e "s/@INSTALLED_KIB@/$INSTALLED_KIB/" -e "s/@OTHER@/$OTHER/" \
      installers/linux/debian/control.in > "$STAGE/root/DEBIAN/control"
  for script in postinst postrm; do
    install -m 755 "installers/linux/debian/$script" "$STAGE/root/DEBIAN/$script"
  done
  DEBFILE=$OUT/${PKG}_${VERSION}_${DEB_ARCH}.deb
  dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-zstd}" --build "$STAGE/root" "$DEBFILE" >/dev/null
  DEB_S=$(elapsed "$T0")
fi

size() { [ -n "$1" ] && stat -c %s "$1" || echo 0; }
cat > "$OUT/build-info.json" <<JSON
{
  "version": "$VERSION",
  "variant": "$VARIANT",
  "package": "$PKG",
  "pyinstaller_s": $PYI_S,
  "reused_dist": $([ "$REUSE" -eq 1 ] && echo true || echo false),
  "tarball_s": $TAR_S,
  "deb_s": $DEB_S,
  "app_dir_bytes": $APP_BYTES,
  "tarball": "$(basename "${TARFILE:-}")",
  "tarball_bytes": $(size "$TARFILE"),
  "deb": "$(basename "${DEBFILE:-}")",
  "deb_bytes": $(size "$DEBFILE")
}
JSON
log "done: $(cat "$OUT/build-info.json" | tr -d '\n' | tr -s ' ')"
