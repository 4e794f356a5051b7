#!/bin/sh
# Container entry point. No arguments (or only options): run the server in the foreground as PID 1,
# so SIGTERM from `docker stop` reaches it and the sockets are drained. A command
# (`helpdesk db upgrade`, `helpdesk audit verify`, `sh`) runs as given: compose's one-shot `migrate`
# service uses that, and migrations run there only, once, before the replicas start.
set -eu
if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
  exec "$@"
fi
exec helpdesk serve --host 0.0.0.0 --port "${PORT:-8000}" --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-*}" "$@"
