"""tg-relay's command-line client (`tgrelay`) and typed Python client (`tgrelay.Client`)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tgrelay")
except PackageNotFoundError:  # run from a source tree
    __version__ = "0"

from tgrelay.client import (  # noqa: E402
    Answer,
    ApiError,
    Client,
    Message,
    MessageFailed,
    ServerUnreachable,
    TgRelayError,
)

__all__ = [
    "Answer",
    "ApiError",
    "Client",
    "Message",
    "MessageFailed",
    "ServerUnreachable",
    "TgRelayError",
    "__version__",
]
