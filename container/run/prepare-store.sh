#!/bin/sh
# Runs as appuser at every container start, before supervisord starts the
# service. Idempotent: the store survives restarts and upgrades.
set -eu
mkdir -p /opt/app-root/store/log
chmod 700 /opt/app-root/store
