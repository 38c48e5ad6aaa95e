#!/bin/sh
# Debian's Chromium and ChromeDriver for the browser tests (no browser download from elsewhere).
set -e
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
