# gunicorn reads this file from the directory it starts in: `make run`,
# deploy/Procfile and deploy/systemd all start it at the project root.
from config.gunicorn_hooks import post_request, pre_request  # noqa: F401

# Hook secrets, ntfy's ?auth= and Gotify's ?token= never reach the access log.
logger_class = "config.gunicorn_hooks.RedactingLogger"
