"""The cabinet: pages for people over the same services and selectors as the API.

Every page reads through a selector scoped to request.user, so one account
never sees another's chat, messages or tokens.
"""

from datetime import datetime

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_GET, require_http_methods

from accounts import selectors as account_selectors
from accounts import services as account_services
from cabinet import demo, export, throttling, time_zones
from cabinet.forms import (
    AccountDeleteForm,
    AddDestinationForm,
    DemoSayForm,
    DestinationSettingsForm,
    LabelForm,
    LoginForm,
    MessageEditForm,
    MessageFilterForm,
    NameForm,
    PasswordForgotForm,
    PasswordForm,
    PasswordResetForm,
    SendForm,
    SignUpForm,
    TimeZoneForm,
    TokenForm,
    VerifyForm,
)
from cabinet.http import keep, keep_form, post_only, restore_form, see_other, take
from relay import destinations as relay_destinations
from relay import revisions as relay_revisions
from relay import selectors as relay_selectors
from relay import services as relay_services
from relay.models import Destination, Message, Revision
from relaybot import selectors as telegram_selectors
from relaybot import services as telegram_services

RECENT_MESSAGES = 5
MESSAGES_PER_PAGE = 20
# The status poll asks about the queued messages on one page at most.
MAX_POLLED = MESSAGES_PER_PAGE
MAX_MESSAGE_ID = 2**63 - 1
STATUS_NAMES = {
    Message.Status.QUEUED: gettext_lazy("queued"),
    Message.Status.SENT: gettext_lazy("sent"),
    Message.Status.FAILED: gettext_lazy("failed"),
    Message.Status.CANCELLED: gettext_lazy("cancelled"),
    Message.Status.DELETED: gettext_lazy("deleted"),
}


# -- signing up, in and out ---------------------------------------------------------


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("cabinet:dashboard")
    if request.method == "GET":
        form = restore_form(request, "signup", SignUpForm) or SignUpForm()
        return render(request, "cabinet/signup.html", {"form": form})
    form = SignUpForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            # Sign-ups per client address are limited, counted before the password is hashed.
            throttling.reserve_signup(request)
            user = account_services.register_user(
                username=data["username"], password=data["password"], name=data["name"]
            )
        except ValidationError as exc:
            throttling.signup_failed(request)
            for field, errors in exc.message_dict.items():
                if field == "username":
                    # The one username error the service raises, in the page's language.
                    form.add_error("username", _("A user with that username already exists."))
                else:
                    form.add_error(field if field in form.fields else None, errors)
        else:
            login(request, user)
            messages.success(request, _("Welcome, %(name)s! Connect Telegram to start.") % {"name": user.name})
            return see_other("cabinet:dashboard")
    keep_form(request, "signup", form, secret=("password", "password_repeat"))
    return see_other("cabinet:signup")


@require_http_methods(["GET", "POST"])
def log_in(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = ""
    if request.user.is_authenticated:
        return redirect(next_url or "cabinet:dashboard")
    if request.method == "GET":
        form = restore_form(request, "login", LoginForm, request)
        if form is None:
            form = LoginForm(request)
        else:
            # A failed login keeps the username: the password is what to type again.
            form.focus_password()
        return render(request, "cabinet/login.html", {"form": form, "next": next_url})
    username = request.POST.get("username", "")
    login_page = reverse("cabinet:login") + (f"?{urlencode({'next': next_url})}" if next_url else "")
    if throttling.login_blocked(request, username):
        # Not validated: that would check the password.
        error = _("Too many failed attempts. Wait a few minutes and try again.")
        keep(request, "login", {"data": {"username": [username]}, "errors": {"__all__": [{"message": error}]}})
        return see_other(login_page)
    form = LoginForm(request, data=request.POST)
    if not form.is_valid():
        throttling.login_failed(request, username)
        keep_form(request, "login", form, secret=("password",))
        return see_other(login_page)
    throttling.login_succeeded(request, username)
    login(request, form.get_user())
    return see_other(next_url or "cabinet:dashboard")


def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switcher, answering 303 as every other form here does."""
    response = i18n.set_language(request)
    if response.status_code == 302:
        response.status_code = 303
    return response


@post_only("cabinet:dashboard")
def log_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("You are logged out."))
    return see_other("cabinet:login")


# -- the dashboard: Telegram, sending, the latest messages ----------------------------


@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    destinations = list(relay_selectors.destinations_for_user(user=user))
    # The private chat (telegram_selectors.chat_for_user) is among them: one query for both.
    chat = next((each for each in destinations if each.kind == Destination.Kind.PRIVATE), None)
    send_form = restore_form(request, "send", SendForm, destinations=destinations) or SendForm(
        destinations=destinations
    )
    if take(request, "send_focus") is not None or send_form.errors:
        # Straight after a send, the next message is the likely next thing to type.
        send_form.fields["text"].widget.attrs["autofocus"] = True
    context = {
        "chat": chat,
        "destinations": destinations,
        "default": next((each for each in destinations if each.is_default), None),
        "connect": _connect_context(request, chat),
        "verify_form": restore_form(request, "verify", VerifyForm) or VerifyForm(),
        "send_form": send_form,
        "recent": list(relay_selectors.messages_for_user(user=user).select_related("destination")[:RECENT_MESSAGES]),
    }
    if settings.TELEGRAM_DEMO:
        context.update(_demo_context(request))
    return render(request, "cabinet/dashboard.html", context)


# The link code on show. The plain code is stored nowhere else; it stays in the
# session, not the URL, until it expires or the chat's state changes (linked,
# replaced, reconnected), so a reload shows it again instead of making another.
CONNECT_SESSION_KEY = "cabinet_connect"


def _chat_state(chat) -> list | None:
    return [chat.chat_id, bool(chat.unreachable_reason)] if chat else None


def _connect_context(request: HttpRequest, chat) -> dict | None:
    shown = request.session.get(CONNECT_SESSION_KEY)
    if not shown:
        return None
    expires_at = datetime.fromisoformat(shown["expires_at"])
    if expires_at <= timezone.now() or shown["chat"] != _chat_state(chat):
        del request.session[CONNECT_SESSION_KEY]
        return None
    deep_link = telegram_selectors.deep_link(shown["code"])
    return {
        "code": shown["code"],
        "deep_link": deep_link,
        "expires_at": expires_at,
        "qr": _qr_svg(deep_link, _("QR code of the link to the bot")) if deep_link else None,
    }


@post_only("cabinet:dashboard", fragment="telegram")
@login_required
def telegram_connect(request: HttpRequest) -> HttpResponse:
    """A fresh link code, shown on the dashboard until it expires or a chat is linked."""
    link_code, code = telegram_services.create_link_code(user=request.user)
    chat = telegram_selectors.chat_for_user(user=request.user)
    request.session[CONNECT_SESSION_KEY] = {
        "code": code,
        "expires_at": link_code.expires_at.isoformat(),
        "chat": _chat_state(chat),
    }
    return see_other("cabinet:dashboard", fragment="connect")


@post_only("cabinet:dashboard", fragment="telegram")
@login_required
def telegram_verify(request: HttpRequest) -> HttpResponse:
    form = VerifyForm(request.POST)
    if throttling.verify_blocked(request):
        form.is_valid()
        form.add_error("code", _("Too many wrong codes. Wait a few minutes and try again."))
        keep_form(request, "verify", form)
        return see_other("cabinet:dashboard", fragment="telegram")
    if not form.is_valid():
        keep_form(request, "verify", form)
        return see_other("cabinet:dashboard", fragment="telegram")
    try:
        chat = telegram_services.link_by_verification_code(user=request.user, code=form.cleaned_data["code"])
    except telegram_services.CodeInvalid:
        throttling.verify_failed(request)
        form.add_error("code", _("This code is wrong, used or expired. Write to the bot for a new one."))
        keep_form(request, "verify", form)
        return see_other("cabinet:dashboard", fragment="telegram")
    messages.success(request, _("Telegram is connected: %(chat)s.") % {"chat": chat.display_name})
    return see_other("cabinet:dashboard")


@post_only("cabinet:dashboard", fragment="telegram")
@login_required
def telegram_disconnect(request: HttpRequest) -> HttpResponse:
    if telegram_services.unlink_chat(user=request.user, notify=True):
        messages.success(request, _("Telegram is disconnected. Messages still queued were not sent."))
    return see_other("cabinet:dashboard")


@post_only("cabinet:dashboard", fragment="send")
@login_required
def message_send(request: HttpRequest) -> HttpResponse:
    form = SendForm(request.POST, destinations=list(relay_selectors.destinations_for_user(user=request.user)))
    if form.is_valid():
        _send(request, form)
    if form.errors:
        keep_form(request, "send", form)
        # No #send: a page opened at a fragment ignores autofocus, and the box with its error has it.
        return see_other("cabinet:dashboard")
    messages.success(request, _("The message is on its way."))
    keep(request, "send_focus", {})
    return see_other("cabinet:dashboard")


def _send(request: HttpRequest, form: SendForm) -> None:
    """Queue the form's message, or put on the form why not."""
    to = form.cleaned_data.get("to")
    try:
        relay_services.enqueue_message(user=request.user, text=form.cleaned_data["text"], to=to)
    except relay_services.QuotaExceeded as exc:
        form.add_error(
            "text",
            _("You sent too many messages this minute. Try again in %(seconds)d s.") % {"seconds": exc.retry_after},
        )
    except relay_services.ChatNotLinked:
        if to is None:
            form.add_error("text", _("Connect Telegram first: there is no chat to deliver to."))
        else:
            # The chosen one was removed while the message was being accepted.
            form.add_error("to", _("This destination is gone: choose another."))
    except (relay_services.DestinationNotFound, relay_services.DestinationNotAllowed):
        # Removed since the form was checked.
        form.add_error("to" if "to" in form.fields else "text", _("This destination is gone: choose another."))
    except relay_services.ChatUnreachable as exc:
        if to is None:
            error = _("Telegram cannot reach your chat (%(reason)s). Reconnect it to resume.")
        else:
            error = _("Telegram cannot reach this destination (%(reason)s). See the Destinations page.")
        form.add_error("to" if to is not None else "text", error % {"reason": exc.reason})


# -- messages -------------------------------------------------------------------------


@require_GET
@login_required
def message_list(request: HttpRequest) -> HttpResponse:
    """One's messages, newest first, a page at a time below an id (`before`): no count, the same cost at any depth."""
    form = MessageFilterForm(request.GET, destinations=list(relay_selectors.destinations_for_user(user=request.user)))
    before = request.GET.get("before")
    if form.is_valid() and before is not None and not (_is_message_id(before) and int(before) > 0):
        form.add_error(None, _("This page of older messages does not exist: start from the newest."))
    if not form.is_valid():
        return render(request, "cabinet/messages.html", {"filter_form": form, "messages_list": []}, status=400)
    search, status, destination = form.cleaned_data["q"], form.cleaned_data["status"], form.chosen_destination()
    page = relay_selectors.message_page(
        user=request.user,
        size=MESSAGES_PER_PAGE,
        below=int(before) if before is not None else None,
        status=status,
        search=search,
        destination=destination,
    )
    for message in page.messages:
        # From the list already read for the filter, not a query per row; None once removed.
        message.destination = form.destinations.get(message.destination_id)
    context = {
        "filter_form": form,
        "messages_list": page.messages,
        "older": page.next_below,
        "newest": before is not None,
        "filtered": bool(search or status or destination),
    }
    return render(request, "cabinet/messages.html", context)


def _own_message(request: HttpRequest, message_id: int) -> Message:
    """The account's message with this id; 404 for another account's or one that does not exist."""
    message = None
    if message_id <= MAX_MESSAGE_ID:
        message = relay_selectors.message_for_user(user=request.user, message_id=message_id)
    if message is None:
        raise Http404
    return message


@require_GET
@login_required
def message_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    """The whole message: its text, its delivery, and each part Telegram received."""
    message = _own_message(request, message_id)
    parts = relay_selectors.message_parts(message=message)
    context = {"message": message, "parts": parts, "received": sum(1 for part in parts if part.telegram_message_id)}
    context.update(_revision_context(request, message))
    return render(request, "cabinet/message_detail.html", context)


@post_only("cabinet:messages")
@login_required
def message_cancel(request: HttpRequest, message_id: int) -> HttpResponse:
    """Withdraw a queued message; back to the page the button was on."""
    message = _own_message(request, message_id)
    try:
        relay_services.cancel_message(message=message)
    except relay_services.NotCancellable:
        # The service's reason, told in the page's language from the message as it is now.
        message.refresh_from_db()
        if message.status != Message.Status.QUEUED:
            error = _("The message is %(status)s already: only a message not yet sent can be cancelled.")
            messages.error(request, error % {"status": STATUS_NAMES.get(message.status, message.status)})
        elif message.parts_sent:
            messages.error(request, _("Part of the message has reached Telegram: it can no longer be cancelled."))
        else:
            messages.error(request, _("The message's chat is being sent to right now: try again in a moment."))
    else:
        messages.success(request, _("The message is cancelled: it will not be sent."))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = reverse("cabinet:message", args=[message.pk])
    return see_other(back)


def _revision_context(request: HttpRequest, message: Message) -> dict:
    """For a message's page: the edit form, and the edits and deletion Telegram has yet to carry out."""
    pending = relay_selectors.pending_revisions(message=message)
    edits = [revision.text for revision in pending if revision.kind == Revision.Kind.EDIT]
    # The message keeps its text until Telegram has the new one: the form starts from the newest asked for.
    form = restore_form(request, f"edit-{message.pk}", MessageEditForm) or MessageEditForm(
        initial={"text": edits[-1] if edits else message.text}
    )
    return {
        "edit_form": form,
        "pending": pending,
        "deleting": any(revision.kind == Revision.Kind.DELETE for revision in pending),
        "changeable": message.status == Message.Status.SENT and message.destination_id is not None,
    }


@post_only("cabinet:messages")
@login_required
def message_edit(request: HttpRequest, message_id: int) -> HttpResponse:
    """New text for a sent message, carried to each of its parts in the chat as the API's PATCH does."""
    message = _own_message(request, message_id)
    form = MessageEditForm(request.POST)
    if form.is_valid():
        try:
            relay_revisions.edit_message(message=message, text=form.cleaned_data["text"])
        except relay_revisions.TooManyParts:
            form.add_error(
                "text",
                _(
                    "The new text needs more Telegram messages than the original went out as, and Telegram cannot "
                    "add messages by editing. Shorten the text, or send it as a new message."
                ),
            )
        except relay_revisions.NotEditable:
            form.add_error(None, _why_not_editable(message))
        except relay_services.DraftInvalid:
            # The format and title are the message's own, so only an empty text is refused here, and the
            # form refuses one first; the service has the last word.
            form.add_error("text", _("The message is empty."))
    if form.errors:
        keep_form(request, f"edit-{message.pk}", form)
        return see_other("cabinet:message", message.pk, fragment="edit")
    messages.success(request, _("The new text is on its way to the chat."))
    return see_other("cabinet:message", message.pk)


def _why_not_editable(message: Message) -> str:
    """The service's reason, told in the page's language from the message as it is now."""
    message.refresh_from_db()
    if message.status == Message.Status.QUEUED:
        return _("The message is not sent yet, so there is nothing to edit: cancel it and send the new text.")
    if message.destination_id is None:
        return _("The message's destination is removed: its chat can no longer be changed.")
    if message.status != Message.Status.SENT:
        error = _("The message is %(status)s: only a sent message can be edited.")
        return error % {"status": STATUS_NAMES.get(message.status, message.status)}
    if message.revisions.filter(kind=Revision.Kind.DELETE, status=Revision.Status.PENDING).exists():
        return _("The message is being deleted from the chat: it can no longer be edited.")
    return _("The message has no text in the chat to edit.")


@require_GET
@login_required
def message_delete_confirm(request: HttpRequest, message_id: int) -> HttpResponse:
    message = _own_message(request, message_id)
    if message.status != Message.Status.SENT or message.destination is None:
        messages.error(request, _("Only a sent message can be deleted from the chat."))
        return redirect("cabinet:message", message.pk)
    context = {
        "title": _("Delete the message?"),
        "question": _("Delete message %(number)s from %(chat)s?")
        % {"number": message.pk, "chat": message.destination.display_name},
        "detail": _(
            "Every Telegram message it went out as is deleted from the chat. Telegram lets a bot delete its "
            "messages only within 48 hours; past that, the message's page says so. This cannot be undone."
        ),
        "action": reverse("cabinet:message-delete", args=[message.pk]),
        "confirm_label": _("Delete"),
        "cancel_url": reverse("cabinet:message", args=[message.pk]),
    }
    return render(request, "cabinet/confirm.html", context)


@post_only("cabinet:messages")
@login_required
def message_delete(request: HttpRequest, message_id: int) -> HttpResponse:
    """Delete a sent message from the chat as the API's DELETE does (one still queued is cancelled)."""
    message = _own_message(request, message_id)
    try:
        message, queued = relay_revisions.delete_message(message=message)
    except relay_services.NotCancellable:
        messages.error(request, _why_not_deletable(message))
    else:
        if queued:
            messages.success(request, _("The message is being deleted from the chat."))
        else:
            # Still queued when asked: it will never reach the chat.
            messages.success(request, _("The message is cancelled: it will not be sent."))
    return see_other("cabinet:message", message.pk)


def _why_not_deletable(message: Message) -> str:
    """The service's reason, told in the page's language from the message as it is now."""
    message.refresh_from_db()
    if message.status == Message.Status.QUEUED:
        if message.parts_sent:
            return _("Part of the message has reached Telegram: delete it once the rest is sent.")
        return _("The message's chat is being sent to right now: try again in a moment.")
    if message.destination_id is None:
        return _("The message's destination is removed: its chat can no longer be changed.")
    error = _("The message is %(status)s: only a sent message can be deleted.")
    return error % {"status": STATUS_NAMES.get(message.status, message.status)}


@require_GET
@login_required
def message_status(request: HttpRequest) -> HttpResponse:
    """The rows of the given messages, for the page to swap in while some are queued."""
    ids = [int(value) for value in request.GET.getlist("id")[:MAX_POLLED] if _is_message_id(value)]
    rows = relay_selectors.messages_with_ids(user=request.user, ids=ids).select_related("destination") if ids else []
    return render(request, "cabinet/_message_rows.html", {"messages_list": rows})


def _is_message_id(value: str) -> bool:
    # ASCII digits only: str.isdigit() also takes "²" and "①", which int() refuses; and
    # within a database id's range, which the database refuses to compare beyond.
    # Bounded in length first: int() of thousands of digits is slow, and refused past 4,300.
    return value.isascii() and value.isdigit() and len(value) <= 19 and int(value) <= MAX_MESSAGE_ID


# -- destinations: the chats and topics messages go to ---------------------------------


@require_GET
@login_required
def destination_list(request: HttpRequest) -> HttpResponse:
    chosen = list(relay_selectors.destinations_for_user(user=request.user))
    rows = [
        {
            "destination": destination,
            "label_form": restore_form(request, f"label-{destination.pk}", LabelForm, auto_id=f"d{destination.pk}-%s")
            or LabelForm(initial={"label": destination.label}, auto_id=f"d{destination.pk}-%s"),
            "settings_form": DestinationSettingsForm(
                initial={"header": destination.header, "silent": destination.silent, "bundle": destination.bundle},
                auto_id=f"d{destination.pk}-%s",
            ),
        }
        for destination in chosen
    ]
    context = {
        "rows": rows,
        "has_default": any(destination.is_default for destination in chosen),
        "add_form": restore_form(request, "add_destination", AddDestinationForm) or AddDestinationForm(),
        "adding": _adding_context(request, chosen),
    }
    if settings.TELEGRAM_DEMO:
        context.update(_demo_groups_context(request))
    return render(request, "cabinet/destinations.html", context)


# The link code on show for adding a destination, kept as the dashboard keeps its
# own (CONNECT_SESSION_KEY): until it expires, or a destination is linked after it was made.
ADD_SESSION_KEY = "cabinet_add_destination"


def _code_on_show(request: HttpRequest, chosen: list[Destination]) -> dict | None:
    shown = request.session.get(ADD_SESSION_KEY)
    if not shown:
        return None
    if datetime.fromisoformat(shown["expires_at"]) <= timezone.now() or any(
        destination.pk > shown["latest"] for destination in chosen
    ):
        del request.session[ADD_SESSION_KEY]
        return None
    return shown


def _adding_context(request: HttpRequest, chosen: list[Destination]) -> dict | None:
    shown = _code_on_show(request, chosen)
    if shown is None:
        return None
    code = shown["code"]
    private_link, group_link = telegram_selectors.deep_link(code), telegram_selectors.group_link(code)
    return {
        "code": code,
        "label": shown["label"],
        "expires_at": datetime.fromisoformat(shown["expires_at"]),
        "private_link": private_link,
        "private_qr": _qr_svg(private_link, _("QR code of the link to the bot")) if private_link else None,
        "group_link": group_link,
        "group_qr": _qr_svg(group_link, _("QR code of the link that adds the bot to a group")) if group_link else None,
        "start_command": telegram_selectors.start_command(code),
    }


@post_only("cabinet:destinations", fragment="add")
@login_required
def destination_add(request: HttpRequest) -> HttpResponse:
    """A fresh link code, with each way to use it, on the destinations page until it is used or expires."""
    form = AddDestinationForm(request.POST)
    if form.is_valid() and _label_taken(request, form.cleaned_data["label"]):
        form.add_error("label", _label_taken_error(form.cleaned_data["label"]))
    if not form.is_valid():
        keep_form(request, "add_destination", form)
        return see_other("cabinet:destinations", fragment="add")
    label = form.cleaned_data["label"]
    link_code, code = telegram_services.create_link_code(user=request.user, label=label)
    request.session[ADD_SESSION_KEY] = {
        "code": code,
        "label": label,
        "expires_at": link_code.expires_at.isoformat(),
        "latest": max((each.pk for each in relay_selectors.destinations_for_user(user=request.user)), default=0),
    }
    return see_other("cabinet:destinations", fragment="add")


def _label_taken(request: HttpRequest, label: str) -> bool:
    # destination_named also takes an id: only a label that matches counts.
    found = relay_selectors.destination_named(user=request.user, to=label) if label else None
    return found is not None and found.label.lower() == label.lower()


def _label_taken_error(label: str) -> str:
    return _("Another of your destinations is called “%(label)s”: choose another label.") % {"label": label}


def _own_destination(request: HttpRequest, destination_id: int) -> Destination:
    """The account's destination with this id; 404 for another account's or one removed."""
    destination = None
    # Within a database id's range, as for messages: the database refuses to compare beyond it.
    if destination_id <= MAX_MESSAGE_ID:
        destination = relay_selectors.destination_for_user(user=request.user, destination_id=destination_id)
    if destination is None:
        raise Http404
    return destination


@post_only("cabinet:destinations")
@login_required
def destination_rename(request: HttpRequest, destination_id: int) -> HttpResponse:
    destination = _own_destination(request, destination_id)
    form = LabelForm(request.POST)
    if form.is_valid():
        try:
            relay_destinations.update(destination=destination, label=form.cleaned_data["label"])
        except relay_destinations.LabelTaken:
            form.add_error("label", _label_taken_error(form.cleaned_data["label"]))
        except relay_destinations.LabelInvalid:
            # The form checked it already; the service has the last word.
            form.add_error("label", _("Use 1 to 64 letters A–Z, digits, “-” or “_”."))
    if form.errors:
        keep_form(request, f"label-{destination.pk}", form)
    else:
        messages.success(request, _("The destination is now called “%(label)s”.") % {"label": destination.label})
    return see_other("cabinet:destinations", fragment=f"destination-{destination.pk}")


@post_only("cabinet:destinations")
@login_required
def destination_make_default(request: HttpRequest, destination_id: int) -> HttpResponse:
    destination = _own_destination(request, destination_id)
    relay_destinations.update(destination=destination, is_default=True)
    messages.success(
        request, _("“%(label)s” is the default now: messages without “to” go there.") % {"label": destination.label}
    )
    return see_other("cabinet:destinations", fragment=f"destination-{destination.pk}")


@post_only("cabinet:destinations")
@login_required
def destination_settings(request: HttpRequest, destination_id: int) -> HttpResponse:
    destination = _own_destination(request, destination_id)
    # Unchecked boxes are simply absent, so the form is always valid.
    form = DestinationSettingsForm(request.POST)
    form.is_valid()
    relay_destinations.update(
        destination=destination,
        header=form.cleaned_data["header"],
        silent=form.cleaned_data["silent"],
        bundle=form.cleaned_data["bundle"],
    )
    messages.success(
        request,
        _("The settings of “%(label)s” are saved; they apply to messages sent from now on.")
        % {"label": destination.label},
    )
    return see_other("cabinet:destinations", fragment=f"destination-{destination.pk}")


@post_only("cabinet:destinations")
@login_required
def destination_remove(request: HttpRequest, destination_id: int) -> HttpResponse:
    destination = _own_destination(request, destination_id)
    if telegram_services.remove_destination(destination=destination, notify=True):
        messages.success(
            request,
            _("“%(label)s” is removed. Messages still queued for it were not sent.") % {"label": destination.label},
        )
    return see_other("cabinet:destinations")


# -- API tokens -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        context = {
            "form": restore_form(request, "token", TokenForm) or TokenForm(),
            # Kept in the session for this one page: knox keeps a hash, the value is gone after it.
            "new_token": take(request, "new_token"),
            "tokens": account_selectors.tokens_for_user(user=request.user),
        }
        return render(request, "cabinet/tokens.html", context)
    form = TokenForm(request.POST)
    if form.is_valid():
        _, plain = account_services.issue_named_token(user=request.user, name=form.cleaned_data["name"])
        new_token = {"name": form.cleaned_data["name"], "value": plain, "api": request.build_absolute_uri("/api/v1")}
        keep(request, "new_token", new_token)
    else:
        keep_form(request, "token", form)
    return see_other("cabinet:tokens")


@post_only("cabinet:tokens")
@login_required
def token_revoke(request: HttpRequest) -> HttpResponse:
    if account_services.revoke_user_token(user=request.user, digest=request.POST.get("token", "")):
        messages.success(request, _("The token is revoked."))
    else:
        # Revoked already (a second click, another tab), or never this account's.
        messages.error(request, _("There is no such token: it may be revoked already."))
    return see_other("cabinet:tokens")


# -- profile --------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def profile(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _profile(request)
    name_form = NameForm(request.POST)
    if name_form.is_valid():
        account_services.change_name(user=request.user, name=name_form.cleaned_data["name"])
        messages.success(request, _("Your name is saved."))
    else:
        keep_form(request, "name", name_form)
    return see_other("cabinet:profile")


@post_only("cabinet:profile", fragment="password")
@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordForm(request.user, request.POST)
    if not form.is_valid():
        keep_form(request, "password", form, secret=("old_password", "new_password1", "new_password2"))
        return see_other("cabinet:profile", fragment="password")
    revoked = account_services.change_password(
        user=request.user,
        password=form.cleaned_data["new_password1"],
        revoke_tokens=form.cleaned_data["revoke_tokens"],
    )
    # This session stays; every other one ends with the old password hash.
    update_session_auth_hash(request, request.user)
    if form.cleaned_data["revoke_tokens"]:
        text = ngettext(
            "Your password is changed and %(count)d API token is revoked.",
            "Your password is changed and %(count)d API tokens are revoked.",
            revoked,
        )
        messages.success(request, text % {"count": revoked})
    else:
        messages.success(request, _("Your password is changed."))
    return see_other("cabinet:profile")


def _profile(request: HttpRequest) -> HttpResponse:
    browser_zone = time_zones.browser_zone(request)
    context = {
        "name_form": restore_form(request, "name", NameForm) or NameForm(initial={"name": request.user.name}),
        "password_form": restore_form(request, "password", PasswordForm, request.user) or PasswordForm(request.user),
        "delete_form": restore_form(request, "delete", AccountDeleteForm, request.user)
        or AccountDeleteForm(request.user),
        "time_zone_form": restore_form(request, "time_zone", TimeZoneForm, browser_zone=browser_zone)
        or TimeZoneForm(initial={"time_zone": request.user.time_zone}, browser_zone=browser_zone),
    }
    return render(request, "cabinet/profile.html", context)


@post_only("cabinet:profile", fragment="time-zone")
@login_required
def time_zone_change(request: HttpRequest) -> HttpResponse:
    form = TimeZoneForm(request.POST, browser_zone=None)
    if not form.is_valid():
        keep_form(request, "time_zone", form)
        return see_other("cabinet:profile", fragment="time-zone")
    account_services.change_time_zone(user=request.user, time_zone=form.cleaned_data["time_zone"])
    zone = form.cleaned_data["time_zone"] or time_zones.browser_zone(request) or time_zones.DEFAULT
    messages.success(request, _("Times are now shown in %(zone)s.") % {"zone": zone})
    return see_other("cabinet:profile", fragment="time-zone")


# -- confirming before Disconnect, Remove and Revoke ----------------------------------
# The buttons lead here with a GET; this page's form makes the POST. It works
# without JavaScript, and a stray click changes nothing.


@require_GET
@login_required
def telegram_disconnect_confirm(request: HttpRequest) -> HttpResponse:
    chat = telegram_selectors.chat_for_user(user=request.user)
    if chat is None:
        messages.info(request, _("No Telegram chat is connected."))
        return redirect("cabinet:dashboard")
    context = {
        "title": _("Disconnect Telegram?"),
        "question": _("Disconnect %(chat)s from your account?") % {"chat": chat.display_name},
        "detail": _(
            "Messages still queued for it will not be sent, and the bot will tell the chat that it was unlinked. "
            "You can connect a chat again at any time."
        ),
        "action": reverse("cabinet:telegram-disconnect"),
        "confirm_label": _("Disconnect"),
        "cancel_url": reverse("cabinet:dashboard") + "#telegram",
    }
    return render(request, "cabinet/confirm.html", context)


@require_GET
@login_required
def destination_remove_confirm(request: HttpRequest, destination_id: int) -> HttpResponse:
    destination = _own_destination(request, destination_id)
    context = {
        "title": _("Remove the destination?"),
        "question": _("Remove “%(label)s” (%(chat)s) from your account?")
        % {"label": destination.label, "chat": destination.display_name},
        "detail": _(
            "Messages still queued for it will not be sent, API tokens limited to it stop working, "
            "and the bot will tell the chat that it was unlinked. You can add it again at any time."
        ),
        "action": reverse("cabinet:destination-remove", args=[destination.pk]),
        "confirm_label": _("Remove"),
        "cancel_url": reverse("cabinet:destinations") + f"#destination-{destination.pk}",
    }
    return render(request, "cabinet/confirm.html", context)


@require_GET
@login_required
def token_revoke_confirm(request: HttpRequest) -> HttpResponse:
    token = account_selectors.token_for_user(user=request.user, digest=request.GET.get("token", ""))
    if token is None:
        messages.error(request, _("There is no such token: it may be revoked already."))
        return redirect("cabinet:tokens")
    name = getattr(getattr(token, "label", None), "name", "") or f"{token.token_key[:8]}…"
    context = {
        "title": _("Revoke the token?"),
        "question": _("Revoke the token “%(name)s”?") % {"name": name},
        "detail": _("Whatever uses it is refused from now on. This cannot be undone."),
        "action": reverse("cabinet:token-revoke"),
        "hidden": {"token": token.digest},
        "confirm_label": _("Revoke"),
        "cancel_url": reverse("cabinet:tokens"),
    }
    return render(request, "cabinet/confirm.html", context)


# -- forgotten password: a one-time link through the linked chat ----------------------


@require_http_methods(["GET", "POST"])
def password_forgot(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        form = restore_form(request, "forgot", PasswordForgotForm) or PasswordForgotForm()
        return render(request, "cabinet/password_forgot.html", {"form": form})
    form = PasswordForgotForm(request.POST)
    if not form.is_valid():
        keep_form(request, "forgot", form)
        return see_other("cabinet:password-forgot")
    username = form.cleaned_data["username"]
    # Counted for any name, account or not: the answer tells nothing either way.
    if throttling.reset_blocked(request, username):
        form.add_error("username", _("Too many reset links asked for. Wait a few minutes and try again."))
        keep_form(request, "forgot", form)
        return see_other("cabinet:password-forgot")
    throttling.reset_requested(request, username)
    account_services.request_password_reset(username=username, base_url=settings.PUBLIC_URL)
    return see_other("cabinet:password-forgot-sent")


@require_GET
def password_forgot_sent(request: HttpRequest) -> HttpResponse:
    minutes = int(settings.PASSWORD_RESET_TTL.total_seconds() // 60)
    return render(request, "cabinet/password_forgot_sent.html", {"ttl_minutes": minutes})


# The reset link's secret, once its link was opened: the session's, not the address's.
RESET_SESSION_KEY = "cabinet_password_reset"


@require_GET
def password_reset_open(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the bot: it is swapped for a secret this browser keeps, and the address forgets it.

    The link's own token stops working here, so one read from an access log
    or the browser's history later is worth nothing.
    """
    session_secret = account_services.open_password_reset(token=token)
    if session_secret is None:
        return render(request, "cabinet/password_reset_invalid.html", status=404)
    request.session[RESET_SESSION_KEY] = session_secret
    return redirect("cabinet:password-reset")


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    token = request.session.get(RESET_SESSION_KEY, "")
    user = account_selectors.password_reset_user(token=token) if token else None
    if user is None:
        return render(request, "cabinet/password_reset_invalid.html", status=404)
    if request.method == "GET":
        form = restore_form(request, "reset", PasswordResetForm, user) or PasswordResetForm(user)
        return render(request, "cabinet/password_reset.html", {"form": form, "username": user.username})
    form = PasswordResetForm(user, request.POST)
    if not form.is_valid():
        keep_form(request, "reset", form, secret=("new_password1", "new_password2"))
        return see_other("cabinet:password-reset")
    try:
        account_services.reset_password(token=token, password=form.cleaned_data["new_password1"])
    except account_services.ResetLinkInvalid:
        # Used meanwhile, by a second click or another tab: the page now says so.
        return see_other("cabinet:password-reset")
    if request.user.is_authenticated:
        logout(request)
    else:
        request.session.pop(RESET_SESSION_KEY, None)
    messages.success(request, _("Your new password is set. Every session was signed out: log in with it."))
    return see_other("cabinet:login")


# -- your data: export, and deleting the account --------------------------------------


@require_GET
@login_required
def export_messages(request: HttpRequest, fmt: str) -> StreamingHttpResponse:
    stamp = timezone.now().strftime("%Y%m%d")
    if fmt == "csv":
        response = StreamingHttpResponse(export.as_csv(request.user), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(export.as_json(request.user), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="tg-relay-messages-{stamp}.{fmt}"'
    return response


@post_only("cabinet:profile", fragment="delete")
@login_required
def account_delete(request: HttpRequest) -> HttpResponse:
    form = AccountDeleteForm(request.user, request.POST)
    # The password is checked as at login, and counts with login's failures.
    if throttling.login_blocked(request, request.user.username):
        # Not validated: that would check the password.
        error = _("Too many failed attempts. Wait a few minutes and try again.")
        keep(request, "delete", {"data": {}, "errors": {"__all__": [{"message": error}]}})
        return see_other("cabinet:profile", fragment="delete")
    if not form.is_valid():
        throttling.login_failed(request, request.user.username)
        keep_form(request, "delete", form, secret=("password",))
        return see_other("cabinet:profile", fragment="delete")
    throttling.login_succeeded(request, request.user.username)
    account_services.delete_account(user=request.user)
    logout(request)
    messages.success(request, _("Your account is deleted, with its messages, tokens and chat link."))
    return see_other("cabinet:login")


# -- demo mode: the simulated chat with the bot ---------------------------------------


@require_GET
@login_required
def demo_chat(request: HttpRequest) -> HttpResponse:
    _require_demo()
    return _demo_chat(request)


@post_only("cabinet:dashboard", fragment="simulated-chat")
@login_required
def demo_say(request: HttpRequest) -> HttpResponse:
    _require_demo()
    form = DemoSayForm(request.POST)
    error = None
    if form.is_valid():
        try:
            demo.say(
                user=request.user, text=form.cleaned_data["text"], language_code=get_language(), session=request.session
            )
        except demo.DemoUnavailable:
            error = _("The simulated Telegram does not answer. Is `make run` still running?")
    if request.headers.get("X-Fragment") != "demo-chat":
        # Without JavaScript the form posts normally: back to the page.
        if error:
            messages.error(request, error)
        return see_other("cabinet:dashboard", fragment="simulated-chat")
    return _demo_chat(request, error=error)


@post_only("cabinet:destinations", fragment="add")
@login_required
def demo_group(request: HttpRequest) -> HttpResponse:
    """Play a group (or a forum topic) in the simulated Telegram that links itself with the code on show."""
    _require_demo()
    shown = _code_on_show(request, list(relay_selectors.destinations_for_user(user=request.user)))
    if shown is None:
        messages.error(request, _("Make a code first: the simulated group links itself with it."))
        return see_other("cabinet:destinations", fragment="add")
    try:
        demo.play_group(
            user=request.user,
            code=shown["code"],
            start_command=telegram_selectors.start_command(shown["code"]),
            topic=request.POST.get("kind") == "topic",
            session=request.session,
        )
    except demo.DemoUnavailable:
        messages.error(request, _("The simulated Telegram does not answer. Is `make run` still running?"))
    return see_other("cabinet:destinations", fragment="simulated-groups")


def _demo_groups_context(request: HttpRequest) -> dict:
    try:
        return {"demo_groups": demo.played_chats(session=request.session)}
    except demo.DemoUnavailable:
        return {
            "demo_groups": [],
            "demo_error": _("The simulated Telegram does not answer. Is `make run` still running?"),
        }


def _demo_chat(request: HttpRequest, *, error: str | None = None) -> HttpResponse:
    """The chat's messages, and which chat is linked, so the page can tell when linking happened."""
    context = {"chat": telegram_selectors.chat_for_user(user=request.user), **_demo_context(request)}
    if error:
        context["demo_error"] = error
    return render(request, "cabinet/_demo_chat.html", context)


def _require_demo() -> None:
    if not settings.TELEGRAM_DEMO:
        raise Http404


def _demo_context(request: HttpRequest) -> dict:
    context = {"demo_bubbles": [], "demo_bot": telegram_selectors.bot_username()}
    try:
        context["demo_bubbles"] = demo.conversation(user=request.user, session=request.session)
    except demo.DemoUnavailable:
        context["demo_error"] = _("The simulated Telegram does not answer. Is `make run` still running?")
    return context


def _qr_svg(data: str, title: str) -> str:
    # segno writes the SVG itself from the link: no user-controlled markup.
    return mark_safe(segno.make(data, error="m").svg_inline(scale=5, border=2, title=title, omitsize=True))
