#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium and its WebDriver for tests/browser.
# Does nothing when both are already there. Needs root (CI runs as root).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "chromium: $(chromium --version 2>/dev/null || echo present), chromedriver present"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
echo "installed: $(chromium --version)"
