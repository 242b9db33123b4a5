import os

from django.core.wsgi import get_wsgi_application

from config.middleware import ChunkedRequestBodies
from config.turns import TakingTurns

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402 (configured by the line above)

# Chunked request bodies are given a length before Django reads them; WEB_THREADS requests run at once.
application = TakingTurns(ChunkedRequestBodies(django_application), settings.WEB_THREADS)
