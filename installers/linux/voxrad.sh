#!/bin/sh
# /usr/bin/voxrad: start the VoxRad installed under /opt/voxrad (package voxrad or voxrad-offline).
APP="${VOXRAD_APP_DIR:-/opt/voxrad}"
# Offline-site builds carry checksum-verified models in $APP/models: use them unless the site
# or the user chose another models folder with VOXRAD_MODELS__DIRECTORY.
if [ -z "${VOXRAD_MODELS__DIRECTORY:-}" ] && [ -f "$APP/models/SHA256SUMS" ]; then
  VOXRAD_MODELS__DIRECTORY="$APP/models"
  export VOXRAD_MODELS__DIRECTORY
fi
exec "$APP/voxrad" "$@"
