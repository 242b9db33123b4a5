from django.apps import AppConfig


class RelaybotConfig(AppConfig):
    """The Telegram side: the Bot API client, the update handler and linking.

    Named so as not to shadow python-telegram-bot's `telegram`; the label
    stays "telegram" so existing databases keep their tables and migrations.
    """

    name = "relaybot"
    label = "telegram"
