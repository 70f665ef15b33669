#!/bin/sh
# Post-remove of @PKG@ for deb (remove | purge | upgrade …) and rpm (0 = erase,
# 1 = upgrade). Removal keeps the data (the agent's unsent buffer) and the
# config; deb's purge deletes both. The lifeline user stays: the other
# Lifeline package may use it, and files it owned may remain in backups.
set -e
PKG=@PKG@

case "$1" in
  purge)
    rm -rf "/var/lib/$PKG"
    # Only when empty: the certificates may serve the other package.
    rmdir /etc/lifeline/tls 2>/dev/null || true
    rmdir /etc/lifeline 2>/dev/null || true
    ;;
  [1-9]*)
    # rpm upgrade: the new files are in place, restart a running service.
    if [ -d /run/systemd/system ]; then
      systemctl try-restart "$PKG.service" >/dev/null 2>&1 || true
    fi
    ;;
esac
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
