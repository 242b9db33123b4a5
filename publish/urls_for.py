"""The address a tool is given for an integration, at the service's public address."""

from django.conf import settings

from publish.models import Integration

HOOK_SUFFIX = {
    Integration.Kind.WEBHOOK: "",
    Integration.Kind.ALERTMANAGER: "/alertmanager",
    Integration.Kind.GRAFANA: "/grafana",
}


def integration_url(integration: Integration, secret: str) -> str:
    """ntfy: the topic's URL; Gotify: the server (the secret is the application token); hooks: the hook's URL."""
    base = settings.PUBLIC_URL.rstrip("/")
    if integration.kind == Integration.Kind.NTFY:
        return f"{base}/{integration.destination.label if integration.destination else '<topic>'}"
    if integration.kind == Integration.Kind.GOTIFY:
        return base
    return f"{base}/hooks/{secret}{HOOK_SUFFIX[integration.kind]}"
