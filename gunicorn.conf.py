# gunicorn reads this file from the directory it starts in: `make run`,
# deploy/Procfile and deploy/systemd all start it at the project root.
from config.env import wait_slots, web_threads
from config.gunicorn_hooks import post_request, pre_request  # noqa: F401

# Hook secrets, ntfy's ?auth= and Gotify's ?token= never reach the access log.
logger_class = "config.gunicorn_hooks.RedactingLogger"

# Requests run WEB_THREADS at a time in each process (config/turns.py); the
# WAIT_SLOTS threads besides hold requests that wait for an answer (`?wait=`).
# More than one thread in all makes gunicorn's gthread worker; one, the sync worker.
threads = web_threads() + wait_slots()
