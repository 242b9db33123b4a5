from django.conf import settings
from django.http import HttpRequest


def demo(request: HttpRequest) -> dict:
    """Whether the simulated Telegram is in use: every page says so."""
    return {"demo_mode": settings.TELEGRAM_DEMO}
