"""Start-up checks of the delivery settings: `manage.py run_huey` (the worker) and `migrate` refuse to start on them."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def lease_outlasts_a_send(app_configs, **kwargs) -> list[Error]:
    """A lease shorter than one send could end while the send goes on, and another worker send it again."""
    from relay.delivery import longest_send_seconds, shortest_lease_seconds

    needed = shortest_lease_seconds()
    if needed <= settings.DELIVERY_LEASE_SECONDS:
        return []
    return [
        Error(
            f"DELIVERY_LEASE_SECONDS={settings.DELIVERY_LEASE_SECONDS} is shorter than one send may take with "
            f"TELEGRAM_TIMEOUT_SECONDS={settings.TELEGRAM_TIMEOUT_SECONDS:g}: up to {longest_send_seconds():g} s "
            "(a wait for a send slot, then the timeout on each phase of the request), and a worker whose lease "
            "ran out during a send could have it repeated by another.",
            hint=f"Set DELIVERY_LEASE_SECONDS to at least {needed:g}, or lower TELEGRAM_TIMEOUT_SECONDS.",
            id="relay.E001",
        )
    ]
