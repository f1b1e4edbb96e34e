#!/bin/sh
# Runs as root at image build. Mimecast's and QRadar's documentation point
# support staff at /store/log; the app's persistent store is
# /opt/app-root/store (mounted only at run time, so the link dangles until then).
set -eu
ln -sfn /opt/app-root/store /store
