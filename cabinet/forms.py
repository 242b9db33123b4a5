from collections.abc import Sequence

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, SetPasswordForm
from django.contrib.auth.validators import ASCIIUsernameValidator
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from cabinet.time_zones import zone_names
from relay.labels import LABEL_MAX_LENGTH, LABEL_PATTERN, LabelInvalid, check_label
from relay.models import Destination
from relay.validation import has_visible_character


class Labelled:
    """Labels without Django's trailing colon: they stand above their fields."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class LoginForm(Labelled, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        # Django's own says both fields may be case-sensitive; usernames here are not.
        "invalid_login": _("Wrong username or password. The username may be typed in any case; the password may not."),
    }

    def focus_password(self) -> None:
        """After a failed login the username stands; the password is what to type again."""
        self.fields["username"].widget.attrs.pop("autofocus", None)
        self.fields["password"].widget.attrs["autofocus"] = True


class SignUpForm(Labelled, forms.Form):
    # ASCII only, as in the API: SQLite compares case-insensitively only within ASCII.
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        validators=[ASCIIUsernameValidator()],
        help_text=_("Letters, digits and @ . + - _ only."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none", "autofocus": True}),
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=150,
        help_text=_("How the bot addresses you."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_repeat = forms.CharField(
        label=_("Password again"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        # Every problem at once: a weak password and a mismatched repeat are both reported.
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            candidate = User(username=cleaned.get("username", ""), name=cleaned.get("name", ""))
            try:
                password_validation.validate_password(password, user=candidate)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        if password and cleaned.get("password_repeat") not in (None, password):
            self.add_error("password_repeat", _("The passwords do not match."))
        return cleaned


class VerifyForm(Labelled, forms.Form):
    code = forms.CharField(
        label=_("Verification code from the bot"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "characters"}),
    )


def destination_choice(destination: Destination) -> str:
    """How a destination is named in a chooser: its label, and the chat it is."""
    name = f"{destination.label} · {destination.display_name}"
    if destination.unreachable_reason:
        return _("%(name)s (unreachable)") % {"name": name}
    return name


class SendForm(Labelled, forms.Form):
    # Left out when the one destination is the default: the message goes there anyway.
    to = forms.TypedChoiceField(label=_("To"), coerce=int, required=False, empty_value=None)
    text = forms.CharField(
        label=_("Message"),
        max_length=settings.MESSAGE_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, destinations: Sequence[Destination] = (), **kwargs):
        super().__init__(*args, **kwargs)
        if not destinations or (len(destinations) == 1 and destinations[0].is_default):
            del self.fields["to"]
            return
        self.fields["to"].choices = [(destination.pk, destination_choice(destination)) for destination in destinations]
        default = next((destination.pk for destination in destinations if destination.is_default), None)
        self.fields["to"].initial = default

    def clean_text(self) -> str:
        text = self.cleaned_data["text"]
        if not has_visible_character(text):
            raise forms.ValidationError(_("The message is empty."))
        return text


class MessageEditForm(Labelled, forms.Form):
    """New text for a sent message, written in its format; the title and buttons stay."""

    text = forms.CharField(
        label=_("New text"),
        max_length=settings.MESSAGE_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )

    def clean_text(self) -> str:
        text = self.cleaned_data["text"]
        if not has_visible_character(text):
            raise forms.ValidationError(_("The message is empty."))
        return text


def clean_label(label: str) -> str:
    """The label if it may name a destination, else a ValidationError in the page's language."""
    try:
        return check_label(label)
    except LabelInvalid:
        if LABEL_PATTERN.match(label):
            raise forms.ValidationError(
                _("“%(label)s” is a name the service uses for its own pages: choose another.") % {"label": label},
                code="reserved",
            ) from None
        raise forms.ValidationError(_("Use 1 to 64 letters A–Z, digits, “-” or “_”."), code="invalid") from None


LABEL_HELP = _("What the API's “to” names it by: 1 to 64 letters A–Z, digits, “-” or “_”, in any case.")


class LabelForm(Labelled, forms.Form):
    label = forms.CharField(label=_("Label"), max_length=LABEL_MAX_LENGTH, help_text=LABEL_HELP)

    def clean_label(self) -> str:
        return clean_label(self.cleaned_data["label"])


class AddDestinationForm(Labelled, forms.Form):
    label = forms.CharField(
        label=_("Label (optional)"),
        max_length=LABEL_MAX_LENGTH,
        required=False,
        help_text=_("Left empty, the label is made from the chat's title; you can rename it later."),
    )

    def clean_label(self) -> str:
        label = self.cleaned_data["label"]
        return clean_label(label) if label else ""


class DestinationSettingsForm(Labelled, forms.Form):
    header = forms.BooleanField(
        label=_("Header"),
        required=False,
        help_text=_("Each message starts with a line saying that it comes from you."),
    )
    silent = forms.BooleanField(
        label=_("Silent"),
        required=False,
        help_text=_("Messages arrive without a sound or a notification banner."),
    )
    bundle = forms.BooleanField(
        label=_("Bundling"),
        required=False,
        help_text=_("Messages that wait for this chat's next turn go out as one Telegram message."),
    )


class TokenForm(Labelled, forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        help_text=_("Where you will use it, e.g. “backup script”."),
    )


class NameForm(Labelled, forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=150,
        help_text=_("How the bot addresses you."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )


class PasswordForm(Labelled, PasswordChangeForm):
    revoke_tokens = forms.BooleanField(
        label=_("Also revoke all my API tokens"),
        required=False,
        help_text=_("Your other browser sessions are signed out whenever the password changes."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # PasswordChangeForm focuses its first field; on a page with other forms that steals focus.
        self.fields["old_password"].widget.attrs.pop("autofocus", None)

    def validate_password_for_user(self, user, password_field_name: str = "new_password1") -> None:
        # Django reports a weak new password under the repeat; it belongs under the new password itself.
        super().validate_password_for_user(user, password_field_name="new_password1")


class DemoSayForm(Labelled, forms.Form):
    # Telegram's own limit for one message.
    text = forms.CharField(label=_("Message to the bot"), max_length=4096)


class PasswordForgotForm(Labelled, forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none", "autofocus": True}),
    )


class PasswordResetForm(Labelled, SetPasswordForm):
    def validate_password_for_user(self, user, password_field_name: str = "new_password1") -> None:
        # Under the new password itself, as on the profile, not under its repeat.
        super().validate_password_for_user(user, password_field_name="new_password1")


class AccountDeleteForm(Labelled, forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user: User, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("This is not your password."), code="wrong_password")
        return password


class MessageFilterForm(Labelled, forms.Form):
    """Search, status and destination filters over one's own messages: the list page's query string."""

    q = forms.CharField(label=_("Words in the text"), required=False, max_length=200, strip=True)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("Any")),
            ("queued", _("queued")),
            ("sent", _("sent")),
            ("failed", _("failed")),
            ("cancelled", _("cancelled")),
        ],
    )
    # Offered only when there is more than one destination to tell apart.
    destination = forms.TypedChoiceField(label=_("Destination"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args, destinations: Sequence[Destination] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.input_type = "search"
        self.destinations = {destination.pk: destination for destination in destinations}
        if len(destinations) < 2:
            del self.fields["destination"]
            return
        self.fields["destination"].choices = [("", _("Any"))] + [
            (destination.pk, destination.label) for destination in destinations
        ]

    def chosen_destination(self) -> Destination | None:
        """The destination to filter on, once the form is valid."""
        return self.destinations.get(self.cleaned_data.get("destination"))


class TimeZoneForm(Labelled, forms.Form):
    time_zone = forms.ChoiceField(label=_("Time zone"), required=False)

    def __init__(self, *args, browser_zone: str | None, **kwargs):
        super().__init__(*args, **kwargs)
        follow = _("Your browser's zone")
        if browser_zone:
            follow = _("Your browser's (%(zone)s)") % {"zone": browser_zone}
        self.fields["time_zone"].choices = [("", follow)] + [(name, name) for name in sorted(zone_names())]
