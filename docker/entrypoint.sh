#!/bin/sh
# Container entry point: migrate the database, then run the server in the foreground (PID 1 is
# `helpdesk serve`, so SIGTERM from `docker stop` reaches it and the sockets are drained).
set -eu
helpdesk db upgrade
exec helpdesk serve --host 0.0.0.0 --port "${PORT:-8000}" --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-*}" "$@"
