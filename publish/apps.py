from django.apps import AppConfig


class PublishConfig(AppConfig):
    """Ways in that other tools already speak: ntfy, Gotify, webhooks; each a thin edge over relay.services.accept."""

    name = "publish"
