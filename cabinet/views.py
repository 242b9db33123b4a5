"""The cabinet: pages for people over the same services and selectors as the API.

Every page reads through a selector scoped to request.user, so one account
never sees another's chat, messages or tokens.
"""

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from cabinet import demo, throttling
from cabinet.forms import (
    DemoSayForm,
    LoginForm,
    NameForm,
    PasswordForm,
    SendForm,
    SignUpForm,
    TokenForm,
    VerifyForm,
)
from relay import selectors as relay_selectors
from relay import services as relay_services
from relay.throttling import MessageQuotaThrottle
from telegram import selectors as telegram_selectors
from telegram import services as telegram_services

RECENT_MESSAGES = 5
MESSAGES_PER_PAGE = 20
# The status poll asks about the queued messages on one page at most.
MAX_POLLED = MESSAGES_PER_PAGE
MAX_MESSAGE_ID = 2**63 - 1


# -- signing up, in and out ---------------------------------------------------------


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("cabinet:dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = account_services.register_user(
                username=data["username"], password=data["password"], name=data["name"]
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field == "username":
                    # The one username error the service raises, in the page's language.
                    form.add_error("username", _("A user with that username already exists."))
                else:
                    form.add_error(field if field in form.fields else None, errors)
        else:
            login(request, user)
            messages.success(request, _("Welcome, %(name)s! Connect Telegram to start.") % {"name": user.name})
            return redirect("cabinet:dashboard")
    return render(request, "cabinet/signup.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def log_in(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = ""
    if request.user.is_authenticated:
        return redirect(next_url or "cabinet:dashboard")
    if request.method == "GET":
        return render(request, "cabinet/login.html", {"form": LoginForm(request), "next": next_url})
    username = request.POST.get("username", "")
    if throttling.login_blocked(request, username):
        # Not validated: that would check the password.
        context = {
            "form": LoginForm(request, initial={"username": username}),
            "next": next_url,
            "error": _("Too many failed attempts. Wait a few minutes and try again."),
        }
        return render(request, "cabinet/login.html", context, status=429)
    form = LoginForm(request, data=request.POST)
    if not form.is_valid():
        throttling.login_failed(request, username)
        return render(request, "cabinet/login.html", {"form": form, "next": next_url}, status=400)
    throttling.login_succeeded(request, username)
    login(request, form.get_user())
    return redirect(next_url or "cabinet:dashboard")


@require_POST
def log_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("You are logged out."))
    return redirect("cabinet:login")


# -- the dashboard: Telegram, sending, the latest messages ----------------------------


@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return _dashboard(request)


def _dashboard(
    request: HttpRequest,
    *,
    connect: dict | None = None,
    verify_form: VerifyForm | None = None,
    send_form: SendForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    context = {
        "chat": telegram_selectors.chat_for_user(user=user),
        "connect": connect,
        "verify_form": verify_form or VerifyForm(),
        "send_form": send_form or SendForm(),
        "recent": list(relay_selectors.messages_for_user(user=user)[:RECENT_MESSAGES]),
    }
    if settings.TELEGRAM_DEMO:
        context.update(_demo_context(request))
    return render(request, "cabinet/dashboard.html", context, status=status)


@require_POST
@login_required
def telegram_connect(request: HttpRequest) -> HttpResponse:
    """A fresh link code, shown on this response only: the plain code is stored nowhere."""
    link_code, code = telegram_services.create_link_code(user=request.user)
    deep_link = telegram_selectors.deep_link(code)
    connect = {
        "code": code,
        "deep_link": deep_link,
        "expires_at": link_code.expires_at,
        "qr": _qr_svg(deep_link, _("QR code of the link to the bot")) if deep_link else None,
    }
    return _dashboard(request, connect=connect)


@require_POST
@login_required
def telegram_verify(request: HttpRequest) -> HttpResponse:
    form = VerifyForm(request.POST)
    if throttling.verify_blocked(request):
        form.is_valid()
        form.add_error("code", _("Too many wrong codes. Wait a few minutes and try again."))
        return _dashboard(request, verify_form=form, status=429)
    if not form.is_valid():
        return _dashboard(request, verify_form=form, status=400)
    try:
        chat = telegram_services.link_by_verification_code(user=request.user, code=form.cleaned_data["code"])
    except telegram_services.CodeInvalid:
        throttling.verify_failed(request)
        form.add_error("code", _("This code is wrong, used or expired. Write to the bot for a new one."))
        return _dashboard(request, verify_form=form, status=400)
    messages.success(request, _("Telegram is connected: %(chat)s.") % {"chat": chat.display_name})
    return redirect("cabinet:dashboard")


@require_POST
@login_required
def telegram_disconnect(request: HttpRequest) -> HttpResponse:
    if telegram_services.unlink_chat(user=request.user):
        messages.success(request, _("Telegram is disconnected. Messages still queued were not sent."))
    return redirect("cabinet:dashboard")


@require_POST
@login_required
def message_send(request: HttpRequest) -> HttpResponse:
    form = SendForm(request.POST)
    if not form.is_valid():
        return _dashboard(request, send_form=form, status=400)
    quota = MessageQuotaThrottle()
    if not quota.allow_request(request, None):
        form.add_error(
            "text",
            _("You sent too many messages this minute. Try again in %(seconds)d s.") % {"seconds": quota.wait()},
        )
        return _dashboard(request, send_form=form, status=429)
    try:
        relay_services.enqueue_message(user=request.user, text=form.cleaned_data["text"])
    except relay_services.ChatNotLinked:
        form.add_error("text", _("Connect Telegram first: there is no chat to deliver to."))
        return _dashboard(request, send_form=form, status=409)
    except relay_services.ChatUnreachable as exc:
        form.add_error(
            "text",
            _("Telegram cannot reach your chat (%(reason)s). Connect it again to resume.") % {"reason": exc.reason},
        )
        return _dashboard(request, send_form=form, status=409)
    messages.success(request, _("The message is on its way."))
    return redirect("cabinet:dashboard")


# -- messages -------------------------------------------------------------------------


@require_GET
@login_required
def message_list(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(relay_selectors.messages_for_user(user=request.user), MESSAGES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "cabinet/messages.html", {"page": page})


@require_GET
@login_required
def message_status(request: HttpRequest) -> HttpResponse:
    """The rows of the given messages, for the page to swap in while some are queued."""
    ids = [int(value) for value in request.GET.getlist("id")[:MAX_POLLED] if _is_message_id(value)]
    rows = relay_selectors.messages_with_ids(user=request.user, ids=ids) if ids else []
    return render(request, "cabinet/_message_rows.html", {"messages_list": rows})


def _is_message_id(value: str) -> bool:
    # ASCII digits only: str.isdigit() also takes "²" and "①", which int() refuses; and
    # within a database id's range, which the database refuses to compare beyond.
    return value.isascii() and value.isdigit() and int(value) <= MAX_MESSAGE_ID


# -- API tokens -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        token, plain = account_services.issue_named_token(user=request.user, name=form.cleaned_data["name"])
        # Shown on this response only: knox keeps a hash, the value is gone after this page.
        new_token = {"name": form.cleaned_data["name"], "value": plain, "api": request.build_absolute_uri("/api/v1")}
        form = TokenForm()
    context = {"form": form, "new_token": new_token, "tokens": account_selectors.tokens_for_user(user=request.user)}
    return render(request, "cabinet/tokens.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def token_revoke(request: HttpRequest) -> HttpResponse:
    if not account_services.revoke_user_token(user=request.user, digest=request.POST.get("token", "")):
        raise Http404
    messages.success(request, _("The token is revoked."))
    return redirect("cabinet:tokens")


# -- profile --------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def profile(request: HttpRequest) -> HttpResponse:
    name_form = NameForm(request.POST or None, initial={"name": request.user.name})
    if request.method == "POST" and name_form.is_valid():
        account_services.change_name(user=request.user, name=name_form.cleaned_data["name"])
        messages.success(request, _("Your name is saved."))
        return redirect("cabinet:profile")
    return _profile(request, name_form=name_form, status=400 if name_form.errors else 200)


@require_POST
@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordForm(request.user, request.POST)
    if not form.is_valid():
        return _profile(request, password_form=form, status=400)
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
    return redirect("cabinet:profile")


def _profile(
    request: HttpRequest, *, name_form: NameForm | None = None, password_form: PasswordForm | None = None, status=200
) -> HttpResponse:
    context = {
        "name_form": name_form or NameForm(initial={"name": request.user.name}),
        "password_form": password_form or PasswordForm(request.user),
    }
    return render(request, "cabinet/profile.html", context, status=status)


# -- demo mode: the simulated chat with the bot ---------------------------------------


@require_GET
@login_required
def demo_chat(request: HttpRequest) -> HttpResponse:
    _require_demo()
    return _demo_chat(request)


@require_POST
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
        return redirect(reverse("cabinet:dashboard") + "#simulated-chat")
    return _demo_chat(request, error=error)


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
