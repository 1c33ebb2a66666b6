#!/usr/bin/env bash
# System packages the tests need: mono + NUnit (Unity core), cmake + g++ + doctest + libturbojpeg
# (Unreal core), chromium + chromium-driver (the studio's headless browser test). Installs only what is
# missing; needs root or sudo when something is.
set -euo pipefail

packages=(mono-mcs mono-runtime nunit-console libnunit-cil-dev cmake g++ make pkg-config libturbojpeg0-dev doctest-dev nlohmann-json3-dev
          chromium chromium-driver)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "note: no apt here; the plugin and browser tests that need ${missing[*]} will be skipped" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing system packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
