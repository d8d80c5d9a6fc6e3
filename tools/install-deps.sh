#!/bin/sh
# Installs the Debian packages listed in tools/debian-packages.txt that are missing.
set -e
here=$(dirname "$0")
wanted=$(grep -v '^#' "$here/debian-packages.txt" | grep -v '^$')
missing=""
for p in $wanted; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "Installing Debian packages:$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
