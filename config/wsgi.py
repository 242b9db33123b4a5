import os

from django.core.wsgi import get_wsgi_application

from config.middleware import ChunkedRequestBodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Chunked request bodies are given a length before Django reads them.
application = ChunkedRequestBodies(get_wsgi_application())
