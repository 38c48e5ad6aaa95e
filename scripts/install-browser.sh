#!/bin/sh
# Debian's Chromium for the browser tests (Playwright drives it; no browser download from elsewhere).
set -e
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
