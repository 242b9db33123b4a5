# gunicorn reads this file from the directory it starts in: `make run`,
# deploy/Procfile and deploy/systemd all start it at the project root.
from config.gunicorn_hooks import post_request, pre_request  # noqa: F401
