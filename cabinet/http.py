"""Post/redirect/get for the cabinet's forms.

Every form posts, and every POST answers 303 See Other with the page that shows
the outcome: reloading that page never posts again, and the address bar never
holds a POST-only address. What the outcome page needs from the POST (a form's
errors and values, a new token shown once) travels in the session and is read
once.
"""

from collections.abc import Callable
from functools import wraps

from django import forms
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, QueryDict
from django.shortcuts import resolve_url

SESSION_KEY = "cabinet_outcome"


class SeeOther(HttpResponseRedirect):
    """303: the browser follows with a GET whatever the method was."""

    status_code = 303


def see_other(to: str, *args, fragment: str = "", **kwargs) -> SeeOther:
    """A 303 to a URL or a URL pattern's name (with its arguments), and an optional #fragment."""
    url = resolve_url(to, *args, **kwargs)
    return SeeOther(f"{url}#{fragment}" if fragment else url)


def post_only(page: str, *, fragment: str = "") -> Callable:
    """For an address that only takes a form's POST: a GET (typed in, reloaded, bookmarked) goes to the form's page.

    Other methods get 405, as require_POST would answer.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method == "POST":
                return view(request, *args, **kwargs)
            if request.method in ("GET", "HEAD"):
                return see_other(page, fragment=fragment)
            return HttpResponseNotAllowed(["GET", "POST"])

        return wrapper

    return decorator


def keep(request: HttpRequest, key: str, value: dict) -> None:
    """Something the next page shows once: a form's state, a new token, where the focus goes."""
    request.session.setdefault(SESSION_KEY, {})[key] = value
    request.session.modified = True


def take(request: HttpRequest, key: str) -> dict | None:
    """What keep() left under `key`, removed from the session so it shows once."""
    kept = request.session.get(SESSION_KEY)
    if not kept or key not in kept:
        return None
    value = kept.pop(key)
    if not kept:
        del request.session[SESSION_KEY]
    request.session.modified = True
    return value


def keep_form(request: HttpRequest, key: str, form: forms.Form, *, secret: tuple[str, ...] = ()) -> None:
    """A refused form's values and errors, for its page to show again after the redirect.

    Fields named in `secret` (passwords) are not kept: they would sit in the session store.
    """
    data = {name: form.data.getlist(name) for name in form.data if name not in secret and name in form.fields}
    keep(request, key, {"data": data, "errors": form.errors.get_json_data()})


def restore_form[F: forms.Form](request: HttpRequest, key: str, form_class: type[F], *args, **kwargs) -> F | None:
    """The form keep_form() left, bound to its values and carrying its errors, or None.

    It is not validated again: the errors are the ones the POST found, some of
    which (a wrong code, a refused send) no form check could find again.
    """
    kept = take(request, key)
    if kept is None:
        return None
    data = QueryDict(mutable=True)
    for name, values in kept["data"].items():
        data.setlist(name, values)
    form = form_class(*args, data=data, **kwargs)
    form.cleaned_data = {}
    # As full_clean() starts, without running the checks again.
    form._errors = ErrorDict(renderer=form.renderer)
    for field, errors in kept["errors"].items():
        for error in errors:
            form.add_error(
                field if field != "__all__" else None, forms.ValidationError(error["message"], error.get("code"))
            )
    return form
