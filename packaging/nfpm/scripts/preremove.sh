#!/bin/sh
# Pre-remove of @PKG@ for deb (remove | upgrade …) and rpm (0 = erase,
# 1 = upgrade). On removal the service is stopped and disabled; on upgrade it
# keeps running until the new files are in place.
set -e
PKG=@PKG@

case "$1" in
  remove|0) ;;
  *) exit 0 ;;
esac

if [ -d /run/systemd/system ]; then
  systemctl stop "$PKG.service" >/dev/null 2>&1 || true
fi
systemctl disable "$PKG.service" >/dev/null 2>&1 || true
exit 0
