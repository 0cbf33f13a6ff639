#!/usr/bin/env bash
# Installs the system packages ttl builds against, only those that are missing.
# Quiet when everything is there; safe to run again. Used by `make test`, `make bench`, `make demo`.
# With --test (`make test`) also what only the tests need.
set -euo pipefail

# Debian/Ubuntu packages.
APT_PACKAGES=(pkg-config libopenblas-dev libturbojpeg0-dev libpng-dev libhdf5-dev libdnnl-dev)
# For the tests only: ReportBrowserTests opens the HTML report in headless chromium (Debian 12:
# 124 MB to download, 414 MB installed on a machine with the build packages; a font comes with
# fontconfig's dependencies).
if [ "${1:-}" = "--test" ]; then
    APT_PACKAGES+=(chromium)
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "ttl: 'swift' is not on PATH; install Swift 6.0 or later (https://www.swift.org/install)" >&2
    exit 1
fi

case "$(uname -s)" in
Linux)
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "ttl: not a Debian/Ubuntu system; install by hand: ${APT_PACKAGES[*]} (or your distribution's equivalents)" >&2
        exit 0
    fi
    missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && exit 0
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "ttl: missing packages ${missing[*]}; run as root or install sudo" >&2; exit 1; }
        sudo="sudo"
    fi
    echo "ttl: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    ;;
Darwin)
    # BLAS comes from Accelerate; the image libraries from Homebrew. The report's browser test
    # needs Chromium or Chrome on PATH (or TTL_CHROMIUM naming it).
    for p in jpeg-turbo libpng hdf5 pkg-config; do
        brew list "$p" >/dev/null 2>&1 || brew install "$p"
    done
    ;;
esac
