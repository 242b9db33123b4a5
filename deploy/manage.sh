#!/bin/sh
# Run a manage.py command the way the services run it: from this checkout, with its virtualenv and the
# environment file of the systemd units. Run it as the service user:
#   sudo -u tg-relay deploy/manage.sh migrate --noinput
set -eu
cd "$(dirname "$0")/.."
set -a
. "${TG_RELAY_ENV:-/etc/tg-relay/env}"
set +a
exec .venv/bin/python manage.py "$@"
