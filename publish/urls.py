"""The protocols other tools already speak, mounted last in config/urls.py so they shadow none of the service's routes.

`/` itself is ntfy's JSON publishing too (POST or PUT): config/urls.py wraps the home view in it.
"""

from django.urls import re_path

from publish import gotify, ntfy
from publish.topics import TOPIC_ROUTE

urlpatterns = [
    # Gotify's exact path: `/message/sent` of the original routes is matched before it.
    re_path(r"^message$", gotify.message_view, name="gotify-message"),
    re_path(TOPIC_ROUTE, ntfy.topic_view, name="ntfy-topic"),
]
