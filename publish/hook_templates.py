"""A generic webhook's template: Django's template language over the JSON a tool posts, and nothing more.

The engine knows only the tags and filters listed here: no `{% load %}`,
`{% include %}`, `{% extends %}`, `{% url %}` or `{% debug %}`, so a template
reads neither files nor the service's state, and none of the filters that
pad a value to a width the template chooses (`ljust`, `center`,
`stringformat`), which would let one short template fill the memory.
Variables cannot reach names starting with "_", as everywhere in Django's
templates; the context is the payload, plain JSON values. The output is not
escaped: it is a message, not HTML.
"""

import math
from functools import cache

from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters, defaulttags

__all__ = ["TemplateSyntaxError", "compile_template", "render_template"]

SAFE_TAGS = (
    "autoescape", "comment", "cycle", "filter", "firstof", "for", "if", "ifchanged", "now", "regroup", "resetcycle",
    "spaceless", "templatetag", "verbatim", "with",
)  # fmt: skip
SAFE_FILTERS = (
    "add", "addslashes", "capfirst", "cut", "date", "default", "default_if_none", "dictsort", "dictsortreversed",
    "divisibleby", "escape", "escapejs", "filesizeformat", "first", "force_escape", "get_digit", "iriencode", "join",
    "last", "length", "linebreaksbr", "lower", "make_list", "pluralize", "pprint", "random", "safe", "slice",
    "slugify", "striptags", "time", "timesince", "timeuntil", "title", "truncatechars", "truncatewords", "upper",
    "urlencode", "wordcount", "yesno",
)  # fmt: skip
# floatformat's precision, kept to what a reading needs: a precision of a billion is a billion digits.
MAX_PRECISION = 20
# Beyond this a float's digits are noise, and Decimal would build them all.
MAX_FLOAT = 1e15

register = Library()
for _name in SAFE_TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
for _name in SAFE_FILTERS:
    register.filters[_name] = defaultfilters.register.filters[_name]


@register.filter(is_safe=True)
def floatformat(value, arg=-1):
    """Django's floatformat, for numbers a reading can hold, with at most MAX_PRECISION places."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return value
    if not math.isfinite(number) or abs(number) > MAX_FLOAT:
        return value
    text = str(arg)
    suffix = "".join(char for char in text if char in "gu")
    digits = text.strip("gu") or "-1"
    try:
        places = max(-MAX_PRECISION, min(MAX_PRECISION, int(digits)))
    except ValueError:
        return value
    return defaultfilters.floatformat(value, f"{places}{suffix}")


class _HookEngine(Engine):
    # Engine adds its default_builtins (every tag and filter) to any it is given.
    default_builtins = []


@cache
def _engine() -> Engine:
    return _HookEngine(autoescape=False, libraries={}, builtins=["publish.hook_templates"], loaders=[])


def compile_template(source: str):
    """The compiled template; raises TemplateSyntaxError naming the problem."""
    return _engine().from_string(source)


def render_template(source: str, payload: object) -> str:
    """`source` rendered over the payload: an object's keys are the variables, a list is `items`, else `value`."""
    if isinstance(payload, dict):
        context = payload
    elif isinstance(payload, list):
        context = {"items": payload}
    else:
        context = {"value": payload}
    return compile_template(source).render(Context(context, autoescape=False))
