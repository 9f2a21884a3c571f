#!/usr/bin/env bash
# Debian's headless Chromium and its driver, for the test that looks at the HTML report as a
# person does. Safe to run again; as root it installs them, otherwise it says how.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "install-browser: installing Debian packages chromium and chromium-driver"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
else
  echo "install-browser: chromium and chromium-driver are missing; as root run:" \
       "apt-get install chromium chromium-driver" >&2
  exit 1
fi
