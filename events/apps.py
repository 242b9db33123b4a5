from django.apps import AppConfig


class EventsConfig(AppConfig):
    """Events out: what happened to an account's messages and destinations, POSTed to its endpoints, signed."""

    name = "events"
