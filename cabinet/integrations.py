"""The integrations page: send-only credentials for tools, each shown once with what to paste into the tool.

An integration is made for one kind of tool (ntfy, Gotify, a webhook,
Alertmanager, Grafana) and, if chosen, one destination. Its secret exists
only in the answer to the POST that made it: kept in the session for the
one page that shows it, with the settings for each tool that speaks its
protocol. The list shows names, kinds and last use, never a secret.
"""

from textwrap import dedent
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from cabinet.forms import Labelled, destination_choice
from cabinet.http import keep, keep_form, post_only, restore_form, see_other, take
from publish import selectors as publish_selectors
from publish import services as publish_services
from publish.hook_templates import TemplateSyntaxError, compile_template
from publish.models import Integration
from publish.urls_for import integration_url
from relay import selectors as relay_selectors
from relay.models import Destination

Kind = Integration.Kind
KIND_NAMES = {
    Kind.NTFY: "ntfy",
    Kind.GOTIFY: "Gotify",
    Kind.WEBHOOK: gettext_lazy("Webhook"),
    Kind.ALERTMANAGER: "Prometheus Alertmanager",
    Kind.GRAFANA: "Grafana",
}
KIND_CHOICES = [
    (Kind.NTFY, gettext_lazy("ntfy: Uptime Kuma, Home Assistant, Apprise, scripts")),
    (Kind.GOTIFY, gettext_lazy("Gotify: Uptime Kuma, Proxmox, Apprise")),
    (Kind.WEBHOOK, gettext_lazy("Webhook: text, JSON or a form from anything, with an optional template")),
    (Kind.ALERTMANAGER, "Prometheus Alertmanager"),
    (Kind.GRAFANA, gettext_lazy("Grafana alerting")),
]
MAX_ID = 2**63 - 1


class IntegrationForm(Labelled, forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Tool"), choices=KIND_CHOICES)
    name = forms.CharField(
        label=gettext_lazy("Name"), max_length=100, help_text=gettext_lazy("What it is for, e.g. “home server”.")
    )
    destination = forms.ChoiceField(label=gettext_lazy("Destination"), required=False)
    template = forms.CharField(
        label=gettext_lazy("Template (webhooks only, optional)"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "Django's template language over the JSON posted, e.g. {{ title }}: {{ status }}; the result is "
            "Markdown. Left empty, the JSON is shown whole, or its “message” and “title” if it has them."
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["destination"].choices = [
            ("", _("None: the default destination (for ntfy, the topic the tool names)")),
            *[(str(each.pk), destination_choice(each)) for each in relay_selectors.destinations_for_user(user=user)],
        ]

    def clean_destination(self) -> Destination | None:
        chosen = self.cleaned_data["destination"]
        if not chosen:
            return None
        destination = relay_selectors.destination_for_user(user=self.user, destination_id=int(chosen))
        if destination is None:
            raise forms.ValidationError(_("Choose one of your destinations."))
        return destination

    def clean_template(self) -> str:
        template = self.cleaned_data["template"]
        try:
            compile_template(template)
        except TemplateSyntaxError as exc:
            raise forms.ValidationError(_("The template cannot be used: %(error)s") % {"error": exc}) from None
        return template

    def clean(self) -> dict:
        data = super().clean()
        if data.get("template") and data.get("kind") != Kind.WEBHOOK:
            self.add_error("template", _("Only a webhook uses a template: leave it empty for this tool."))
        return data


@require_http_methods(["GET", "POST"])
@login_required
def integration_list(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        new = take(request, "new_integration")
        context = {
            "form": restore_form(request, "integration", IntegrationForm, user=request.user)
            or IntegrationForm(user=request.user),
            # Kept in the session for this one page: only a hash of the secret is stored.
            "new_integration": new,
            "snippets": snippets(**new) if new else [],
            "integrations": [
                (integration, KIND_NAMES[integration.kind])
                for integration in publish_selectors.integrations_for_user(user=request.user)
            ],
        }
        return render(request, "cabinet/integrations.html", context)
    form = IntegrationForm(request.POST, user=request.user)
    if not form.is_valid():
        keep_form(request, "integration", form)
        return see_other("cabinet:integrations")
    data = form.cleaned_data
    integration, secret = publish_services.create_integration(
        user=request.user,
        kind=data["kind"],
        name=data["name"],
        destination=data["destination"],
        template=data["template"],
    )
    new = {
        "name": integration.name,
        "kind": integration.kind,
        "secret": secret,
        "url": integration_url(integration, secret),
        "topic": integration.destination.label if integration.destination else "",
    }
    keep(request, "new_integration", new)
    return see_other("cabinet:integrations", fragment="new-integration")


def _own_integration(request: HttpRequest, integration_id: int) -> Integration:
    """The account's integration with this id; 404 for another account's or one revoked."""
    found = None
    if integration_id <= MAX_ID:
        found = publish_selectors.integrations_for_user(user=request.user).filter(pk=integration_id).first()
    if found is None:
        raise Http404
    return found


@require_GET
@login_required
def integration_revoke_confirm(request: HttpRequest, integration_id: int) -> HttpResponse:
    integration = _own_integration(request, integration_id)
    context = {
        "title": _("Revoke the integration?"),
        "question": _("Revoke “%(name)s” (%(kind)s)?")
        % {"name": integration.name, "kind": KIND_NAMES[integration.kind]},
        "detail": _("The tool that uses it is refused from now on. This cannot be undone."),
        "action": reverse("cabinet:integration-revoke", args=[integration.pk]),
        "confirm_label": _("Revoke"),
        "cancel_url": reverse("cabinet:integrations"),
    }
    return render(request, "cabinet/confirm.html", context)


@post_only("cabinet:integrations")
@login_required
def integration_revoke(request: HttpRequest, integration_id: int) -> HttpResponse:
    if integration_id <= MAX_ID and publish_services.revoke_integration(
        user=request.user, integration_id=integration_id
    ):
        messages.success(request, _("The integration is revoked."))
    else:
        # Revoked already (a second click, another tab), or never this account's.
        messages.error(request, _("There is no such integration: it may be revoked already."))
    return see_other("cabinet:integrations")


# -- what to paste into each tool -------------------------------------------------------------------------------


def snippets(*, kind: str, secret: str, url: str, topic: str, name: str = "") -> list[dict[str, str]]:
    """For each tool that speaks the integration's protocol: its title and the settings to give it."""
    base = settings.PUBLIC_URL.rstrip("/")
    parts = urlsplit(base)
    secure = "s" if parts.scheme == "https" else ""
    where = parts.netloc + parts.path
    topic = topic or "<topic>"
    home_assistant = _("Home Assistant: configuration.yaml")
    apprise = _("Apprise URL")
    if kind == Kind.NTFY:
        return [
            _snippet(
                _("Uptime Kuma: notification type ntfy"),
                f"""
                Server URL: {base}
                Topic: {topic}
                Authentication method: Access token
                Access token: {secret}
                """,
            ),
            _snippet(
                home_assistant,
                f"""
                notify:
                  - platform: rest
                    name: tg_relay
                    resource: {base}/
                    method: POST_JSON
                    headers:
                      Authorization: "Bearer {secret}"
                    title_param_name: title
                    message_param_name: message
                    data:
                      topic: {topic}
                """,
            ),
            _snippet("curl", f"curl -H 'Authorization: Bearer {secret}' -H 'Title: Backup' -d 'Backup done' {url}"),
            # Apprise takes a user name for a token only when told so (or when it starts with tk_).
            _snippet(apprise, f"ntfy{secure}://{secret}@{parts.netloc}/{topic}?auth=token"),
        ]
    if kind == Kind.GOTIFY:
        return [
            _snippet(
                _("Uptime Kuma: notification type Gotify"),
                f"""
                Gotify Server URL: {base}
                Application Token: {secret}
                """,
            ),
            _snippet(
                _("Proxmox VE: Datacenter → Notifications → Add → Gotify"),
                f"""
                Server URL: {base}
                API Token: {secret}
                """,
            ),
            _snippet("curl", f"curl '{base}/message?token={secret}' -F 'title=Backup' -F 'message=Backup done'"),
            _snippet(apprise, f"gotify{secure}://{where}/{secret}"),
        ]
    if kind == Kind.ALERTMANAGER:
        return [
            _snippet(
                _("alertmanager.yml: a receiver, and a route to it"),
                f"""
                route:
                  receiver: telegram
                receivers:
                  - name: telegram
                    webhook_configs:
                      - url: {url}
                        send_resolved: true
                """,
            ),
        ]
    if kind == Kind.GRAFANA:
        return [
            _snippet(
                _("Grafana: Alerting → Contact points → Add contact point"),
                f"""
                Integration: Webhook
                URL: {url}
                HTTP Method: POST
                """,
            ),
        ]
    return [
        _snippet(_("curl: a text"), f"curl -d 'Backup done' {url}"),
        _snippet(
            _("curl: JSON (through the template, if it has one)"),
            f'curl -H \'Content-Type: application/json\' -d \'{{"title": "Backup", "message": "Done"}}\' {url}',
        ),
        _snippet(
            home_assistant,
            f"""
            notify:
              - platform: rest
                name: tg_relay
                resource: {url}
                method: POST_JSON
                title_param_name: title
                message_param_name: message
            """,
        ),
        _snippet(apprise, f"json{secure}://{where}/hooks/{secret}"),
    ]


def _snippet(title: str, text: str) -> dict[str, str]:
    return {"title": title, "text": dedent(text).strip()}
