#!/bin/sh
# Post-install of @PKG@ for deb (configure [OLD-VERSION]) and rpm (1 = install,
# 2 = upgrade). Creates the service user, the data directory and the config's
# permissions. A fresh install leaves the service disabled and stopped: its
# config holds placeholders until the site is filled in. An upgrade restarts
# the service if it was running, keeping config and data.
set -e
PKG=@PKG@
CONFIG=@CONFIG@

case "$1" in
  configure) [ -n "$2" ] && upgrade=1 || upgrade=0 ;;
  1) upgrade=0 ;;
  [2-9]*) upgrade=1 ;;
  *) exit 0 ;;
esac

if ! getent group lifeline >/dev/null; then
  groupadd --system lifeline
fi
if ! getent passwd lifeline >/dev/null; then
  useradd --system --gid lifeline --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin --comment "Lifeline telemetry" lifeline
fi

# The data directory (the agent's buffer) belongs to the service user; systemd's
# StateDirectory= would create it too, but commands run by hand before the first
# start (certs init, check) need it now.
[ -d "/var/lib/$PKG" ] || install -d -o lifeline -g lifeline -m 0750 "/var/lib/$PKG"
# Certificates and keys go here; the service reads them through its group.
[ -d /etc/lifeline/tls ] || install -d -o root -g lifeline -m 0750 /etc/lifeline/tls
# The config may hold passwords: root writes it, the service's group reads it.
if [ -f "$CONFIG" ]; then
  chgrp lifeline "$CONFIG"
  chmod g+r,o-rwx "$CONFIG"
fi

if [ "$upgrade" = 0 ]; then
  echo "$PKG: installed, not enabled and not started. Fill in $CONFIG, run"
  echo "  $PKG check --config $CONFIG"
  echo "then: systemctl enable --now $PKG"
fi

[ -d /run/systemd/system ] || exit 0
systemctl daemon-reload >/dev/null 2>&1 || true
if [ "$upgrade" = 1 ] && [ "$1" = configure ]; then
  # rpm restarts in postremove of the old package, after its files are gone.
  systemctl try-restart "$PKG.service" || true
fi
exit 0
