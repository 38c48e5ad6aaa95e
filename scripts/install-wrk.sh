#!/bin/sh
# Debian's wrk for `make bench`'s concurrent load (a C load generator: a Python client would take the cores it measures).
set -e
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
