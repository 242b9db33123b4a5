from django.apps import AppConfig, apps
from django.core.management import call_command
from django.db.models.signals import post_migrate


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Sent once per `migrate` for each app with models: relay's, once.
        post_migrate.connect(create_cache_table, sender=apps.get_app_config("relay"))


def create_cache_table(using: str = "default", **kwargs) -> None:
    # Without Redis the shared cache is a table in the database (config/settings.py):
    # `migrate` makes it, so no release needs a second command. Does nothing when it
    # exists, or when the cache is Redis.
    call_command("createcachetable", database=using, verbosity=0)
