#!/usr/bin/env bash
# Copies shared/boiler and shared/meeting_room into functions/ so the deployed codebase
# contains every package that functions/main.py imports (run as the functions predeploy hook).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for package in boiler meeting_room; do
  src="$root/shared/$package"
  dest="$root/functions/$package"
  if [ ! -d "$src" ]; then
    echo "vendor_shared: $src is missing" >&2
    exit 1
  fi
  rm -rf "$dest"
  # The testing helpers and the project scaffold are dev-only, and the live server runs in its
  # own container (Dockerfile): deployed functions never import them.
  (cd "$root/shared" && tar --exclude='__pycache__' --exclude="$package/testing" \
    --exclude="$package/scaffold" --exclude="$package/live" -cf - "$package") \
    | tar -xf - -C "$root/functions"
  echo "vendor_shared: copied shared/$package -> functions/$package"
done
