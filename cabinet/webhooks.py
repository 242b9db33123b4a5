"""The webhooks page: the account's endpoints, each with its recent deliveries; made, tested and removed here.

An endpoint's signing secret is in the answer to the POST that made it
only: kept in the session for the one page that shows it, as the
integrations page does, and never shown again.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from cabinet.forms import Labelled
from cabinet.http import keep, keep_form, post_only, restore_form, see_other, take
from events import selectors as events_selectors
from events import services as events_services
from events.addresses import AddressRefused, parse
from events.models import Delivery, Endpoint, EventType

MAX_ID = 2**63 - 1
EVENT_CHOICES = [
    (EventType.MESSAGE_SENT, gettext_lazy("A message is sent (message.sent)")),
    (EventType.MESSAGE_FAILED, gettext_lazy("A message has failed (message.failed)")),
    (EventType.MESSAGE_ANSWERED, gettext_lazy("A question is answered (message.answered)")),
    (EventType.DESTINATION_UNREACHABLE, gettext_lazy("A destination cannot be reached (destination.unreachable)")),
]
DELIVERY_STATUS_NAMES = {
    Delivery.Status.PENDING: gettext_lazy("pending"),
    Delivery.Status.DELIVERED: gettext_lazy("delivered"),
    Delivery.Status.FAILED: gettext_lazy("failed"),
}


class EndpointForm(Labelled, forms.Form):
    url = forms.CharField(
        label=gettext_lazy("URL"),
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/tg-relay", "spellcheck": "false"}),
        help_text=gettext_lazy("Events are POSTed here, signed: http or https, on a public address."),
    )
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Choose at least one event.")},
    )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            parse(url)
        except AddressRefused:
            raise forms.ValidationError(_("Enter an http:// or https:// URL with a host.")) from None
        return url


@require_http_methods(["GET", "POST"])
@login_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        endpoints = list(events_selectors.endpoints_for_user(user=request.user))
        context = {
            "form": restore_form(request, "endpoint", EndpointForm) or EndpointForm(),
            # Kept in the session for this one page: the secret is shown nowhere else.
            "new_endpoint": take(request, "new_endpoint"),
            "endpoints": [
                {
                    "endpoint": endpoint,
                    "events": [str(name) for value, name in EVENT_CHOICES if value in endpoint.events],
                    "deliveries": [
                        (delivery, DELIVERY_STATUS_NAMES.get(delivery.status, delivery.status))
                        for delivery in endpoint.recent
                    ],
                }
                for endpoint in endpoints
            ],
        }
        return render(request, "cabinet/webhooks.html", context)
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint, secret = events_services.create_endpoint(
                user=request.user, url=form.cleaned_data["url"], events=form.cleaned_data["events"]
            )
        except AddressRefused:
            # Its scheme and host were checked above: what is left is where the host points.
            form.add_error(
                "url",
                _("This address is not public: webhooks go to public addresses only, not to private networks."),
            )
        except events_services.TooManyEndpoints:
            form.add_error(
                None,
                _("An account may have %(count)d webhook endpoints: remove one first.")
                % {"count": events_services.MAX_ENDPOINTS},
            )
        else:
            keep(request, "new_endpoint", {"url": endpoint.url, "secret": secret})
            return see_other("cabinet:webhooks", fragment="new-endpoint")
    keep_form(request, "endpoint", form)
    return see_other("cabinet:webhooks", fragment="add")


def _own_endpoint(request: HttpRequest, endpoint_id: int) -> Endpoint:
    """The account's endpoint with this id; 404 for another account's or one removed."""
    found = None
    if endpoint_id <= MAX_ID:
        found = events_selectors.endpoints_for_user(user=request.user).filter(pk=endpoint_id).first()
    if found is None:
        raise Http404
    return found


@post_only("cabinet:webhooks")
@login_required
def endpoint_test(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    delivery = None
    if endpoint_id <= MAX_ID:
        delivery = events_services.send_test(user=request.user, endpoint_id=endpoint_id)
    if delivery is None:
        raise Http404
    messages.success(request, _("A test event is on its way: its delivery is listed below."))
    return see_other("cabinet:webhooks", fragment=f"endpoint-{endpoint_id}")


@require_GET
@login_required
def endpoint_remove_confirm(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _own_endpoint(request, endpoint_id)
    context = {
        "title": _("Remove the webhook endpoint?"),
        "question": _("Remove the endpoint %(url)s?") % {"url": endpoint.url},
        "detail": _("No more events are sent to it, and its deliveries still waiting are dropped."),
        "action": reverse("cabinet:webhook-remove", args=[endpoint.pk]),
        "confirm_label": _("Remove"),
        "cancel_url": reverse("cabinet:webhooks"),
    }
    return render(request, "cabinet/confirm.html", context)


@post_only("cabinet:webhooks")
@login_required
def endpoint_remove(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    if endpoint_id <= MAX_ID and events_services.delete_endpoint(user=request.user, endpoint_id=endpoint_id):
        messages.success(request, _("The webhook endpoint is removed."))
    else:
        # Removed already (a second click, another tab), or never this account's.
        messages.error(request, _("There is no such webhook endpoint: it may be removed already."))
    return see_other("cabinet:webhooks")
