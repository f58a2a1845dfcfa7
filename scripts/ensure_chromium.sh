#!/usr/bin/env bash
# Test set-up: the report's browser test needs Debian's headless Chromium. Install it when missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: chromium missing and cannot apt-get install it here; browser tests will be skipped" >&2
  exit 0
fi
echo "ensure_chromium: installing Debian's chromium for the report's browser test" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium
