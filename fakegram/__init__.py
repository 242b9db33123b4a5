"""fakegram: a simulated Telegram Bot API server for tg-relay's tests and local runs."""

from fakegram.server import FakeTelegram

__all__ = ["FakeTelegram"]
