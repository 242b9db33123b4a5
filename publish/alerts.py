"""Alertmanager's and Grafana's notifications, each as one message: a title, then a block per alert.

Both post a group of alerts that share a route (Alertmanager's webhook
payload version 4; Grafana's webhook contact point, which follows it). The
message is written in Markdown, which relay/formatting.py turns into
entities: every value from the payload is escaped, so no label or
annotation can become formatting or a link; links are the payload's own
URLs, http and https only. Long groups are cut to what one message may
hold (splitting it into Telegram messages happens at delivery).
"""

import math
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from urllib.parse import quote, urlsplit

from django.conf import settings

from relay.drafts import MAX_TITLE_LENGTH, Draft

STATUSES = ("firing", "resolved")
TAGS = {"firing": ("fire",), "resolved": ("white_check_mark",)}
# critical rings, warning follows the destination's setting, info and none are silent.
LOUD_SEVERITIES = frozenset({"critical"})
QUIET_SEVERITIES = frozenset({"info", "none"})
# Shown first among an alert's labels; alertname and severity are in its first line.
FIRST_LABELS = ("instance", "job")
NOT_SHOWN_LABELS = frozenset({"alertname", "severity"})
# The annotations that say what is wrong, in this order; runbook_url becomes a link.
SUMMARY_ANNOTATIONS = ("summary", "description", "message")
MAX_ALERTS_SHOWN = 30
MAX_LABELS_SHOWN = 10
MAX_VALUES_SHOWN = 10
MAX_LABEL_LENGTH = 200
MAX_ANNOTATION_LENGTH = 1000
MAX_URL_LENGTH = 2048
# Kept free for the line that counts the alerts left out.
ROOM_FOR_ENDING = 100
# A time Go's zero value stands for: not set.
UNSET_YEAR = 1


class PayloadInvalid(ValueError):
    """A payload this adapter cannot read, with where in it the problem is."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


@dataclass(frozen=True)
class Alert:
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    # (label, URL) of the alert's own pages: its source, a runbook, Grafana's dashboard...
    links: list[tuple[str, str]] = field(default_factory=list)
    # Grafana's query results, already written out.
    values: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")


def alertmanager_draft(payload: object, *, time_zone: str = "") -> Draft:
    """Alertmanager's webhook notification (version 4) as one message."""
    body = _object(payload, "body")
    status = _status(body.get("status"), "status")
    alerts = [
        _alert(raw, f"alerts[{index}]", status, links=[("Source", "generatorURL")])
        for index, raw in enumerate(_alerts(body))
    ]
    group_labels = _strings(body.get("groupLabels"), "groupLabels")
    common_labels = _strings(body.get("commonLabels"), "commonLabels")
    external = _url(body.get("externalURL"))
    footer = []
    if status == "firing" and external:
        footer.append(("Silence", _silence_url(external, group_labels or common_labels)))
    if external:
        footer.append(("Alertmanager", external))
    return _draft(
        status=status,
        title=_title(status, alerts, group_labels, common_labels),
        alerts=alerts,
        common_labels=common_labels,
        common_annotations=_strings(body.get("commonAnnotations"), "commonAnnotations"),
        footer=footer,
        truncated=_count(body.get("truncatedAlerts")),
        zone=_zone(time_zone),
    )


GRAFANA_LINKS = [
    ("Source", "generatorURL"),
    ("Dashboard", "dashboardURL"),
    ("Panel", "panelURL"),
    ("Silence", "silenceURL"),
    ("Image", "imageURL"),
]


def grafana_draft(payload: object, *, time_zone: str = "") -> Draft:
    """Grafana's webhook contact point notification as one message."""
    body = _object(payload, "body")
    status = _status(body.get("status"), "status")
    alerts = [
        _alert(raw, f"alerts[{index}]", status, links=GRAFANA_LINKS, grafana=True)
        for index, raw in enumerate(_alerts(body))
    ]
    group_labels = _strings(body.get("groupLabels"), "groupLabels")
    common_labels = _strings(body.get("commonLabels"), "commonLabels")
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        title = _title(status, alerts, group_labels, common_labels)
    external = _url(body.get("externalURL"))
    return _draft(
        status=status,
        title=" ".join(title.split()),
        alerts=alerts,
        common_labels=common_labels,
        common_annotations=_strings(body.get("commonAnnotations"), "commonAnnotations"),
        footer=[("Grafana", external)] if external else [],
        truncated=_count(body.get("truncatedAlerts")),
        zone=_zone(time_zone),
        fallback=body.get("message") if isinstance(body.get("message"), str) else "",
    )


# -- reading the payload --------------------------------------------------------------------------------------


def _object(value: object, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadInvalid(where, "expected a JSON object.")
    return value


def _alerts(body: dict) -> list:
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadInvalid("alerts", "expected a list of alerts.")
    return alerts


def _status(value: object, where: str) -> str:
    if value not in STATUSES:
        raise PayloadInvalid(where, f"expected one of {', '.join(STATUSES)}.")
    return value


def _strings(value: object, where: str) -> dict[str, str]:
    """A map of labels or annotations, every value as text (a number or a list written as it came)."""
    return {str(key): item if isinstance(item, str) else _plain(item) for key, item in _object(value, where).items()}


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def _alert(raw: object, where: str, status: str, *, links: list[tuple[str, str]], grafana: bool = False) -> Alert:
    alert = _object(raw, where)
    if not alert:
        raise PayloadInvalid(where, "expected an alert (an object with labels).")
    annotations = _strings(alert.get("annotations"), f"{where}.annotations")
    found = [(text, _url(alert.get(key))) for text, key in links]
    found.append(("Runbook", _url(annotations.get("runbook_url"))))
    values = ""
    if grafana:
        raw_values = alert.get("values")
        if isinstance(raw_values, dict) and raw_values:
            shown = list(raw_values.items())[:MAX_VALUES_SHOWN]
            values = ", ".join(f"{key}={_plain(value)}" for key, value in shown)
        elif isinstance(alert.get("valueString"), str):
            values = alert["valueString"]
    return Alert(
        status=_status(alert.get("status", status), f"{where}.status"),
        labels=_strings(alert.get("labels"), f"{where}.labels"),
        annotations=annotations,
        starts_at=_moment(alert.get("startsAt")),
        ends_at=_moment(alert.get("endsAt")),
        links=[(text, url) for text, url in found if url],
        values=values,
    )


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.year == UNSET_YEAR:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _url(value: object) -> str:
    """The URL if it is a web address a link may lead to, else ""."""
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH:
        return ""
    url = value.strip()
    if not url.isprintable() or any(char.isspace() for char in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else ""


def _zone(name: str) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(name) if name else UTC
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return UTC


def _silence_url(external: str, labels: dict[str, str]) -> str:
    """Alertmanager's page for a new silence, its matchers filled in with the group's labels."""
    matchers = ",".join(f'{name}="{_matcher_value(value)}"' for name, value in sorted(labels.items()))
    return f"{external.rstrip('/')}/#/silences/new?filter={quote('{' + matchers + '}', safe='')}"


def _matcher_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# -- writing the message --------------------------------------------------------------------------------------


def _title(status: str, alerts: list[Alert], group_labels: dict, common_labels: dict) -> str:
    """E.g. "FIRING: HighLatency (3)": the alert name of the group, and how many alerts have its status."""
    name = group_labels.get("alertname") or common_labels.get("alertname")
    if not name:
        names = list(dict.fromkeys(alert.name for alert in alerts if alert.name))
        name = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    count = sum(alert.status == status for alert in alerts)
    title = f"{status.upper()}: {name} ({count})" if name else f"{status.upper()} ({count})"
    return _cut(title, MAX_TITLE_LENGTH)


def _silent(alerts: list[Alert]) -> bool | None:
    """Critical rings even in a silent destination; info and none never ring; the rest as the destination is set."""
    severities = {alert.severity.lower() for alert in alerts}
    if severities & LOUD_SEVERITIES:
        return False
    if severities and severities <= QUIET_SEVERITIES:
        return True
    return None


def _draft(
    *,
    status: str,
    title: str,
    alerts: list[Alert],
    common_labels: dict[str, str],
    common_annotations: dict[str, str],
    footer: list[tuple[str, str]],
    truncated: int,
    zone: tzinfo,
    fallback: str = "",
) -> Draft:
    limit = settings.MESSAGE_MAX_LENGTH
    tags = TAGS[status]
    title = _cut(title, MAX_TITLE_LENGTH)
    if not alerts:
        text = _cut(fallback.strip(), limit) or "(no alerts)"
        return Draft(text=text, title=title, tags=tags)
    several = len(alerts) > 1
    # (whether it is an alert's, the block): a few lines each, apart by a blank line.
    items: list[tuple[bool, str]] = []
    if several and (common := _common_block(common_labels, common_annotations)):
        items.append((False, common))
    # Common labels and annotations are said once above; a single alert says them itself.
    hidden_labels = set(common_labels) if several else set()
    hidden_annotations = set(common_annotations) if several else set()
    firing = [alert for alert in alerts if alert.status == "firing"]
    resolved = [alert for alert in alerts if alert.status == "resolved"]
    for heading, group in (("Firing", firing), ("Resolved", resolved)):
        if firing and resolved and group:
            items.append((False, f"**{heading} ({len(group)})**"))
        items += [(True, _alert_block(alert, hidden_labels, hidden_annotations, zone)) for alert in group]
    footer_line = " · ".join(_link(text, url) for text, url in footer)
    # Whole blocks only, so no cut leaves half a link; the alerts that do not fit are counted.
    shown, size, alerts_shown, left_out = [], len(footer_line) + ROOM_FOR_ENDING, 0, truncated
    for is_alert, block in items:
        if size + len(block) + 2 > limit or (is_alert and alerts_shown >= MAX_ALERTS_SHOWN):
            left_out += is_alert
            continue
        shown.append(block)
        size += len(block) + 2
        alerts_shown += is_alert
    if left_out:
        shown.append(f"_…and {left_out} more alert{'s' if left_out != 1 else ''} not shown._")
    if footer_line:
        shown.append(footer_line)
    # How loud: the alerts this notification is about (those of its status) decide.
    silent = _silent([alert for alert in alerts if alert.status == status] or alerts)
    return Draft(text="\n\n".join(shown), title=title, format="markdown", silent=silent, tags=tags)


def _common_block(labels: dict[str, str], annotations: dict[str, str]) -> str:
    lines = [md(_cut(text, MAX_ANNOTATION_LENGTH)) for text in _summary(annotations)]
    label_line = _labels_line(labels, hidden=set())
    if label_line:
        lines.append(label_line)
    return "\n".join(lines)


def _summary(annotations: dict[str, str]) -> list[str]:
    texts = (annotations.get(key, "").strip() for key in SUMMARY_ANNOTATIONS)
    return [text for text in texts if text]


def _alert_block(alert: Alert, hidden_labels: set[str], hidden_annotations: set[str], zone: tzinfo) -> str:
    first = f"**{md(_cut(alert.name, MAX_LABEL_LENGTH) or 'Alert')}**"
    if alert.severity:
        first += f" · {md(_cut(alert.severity, MAX_LABEL_LENGTH))}"
    lines = [first]
    own = {key: value for key, value in alert.annotations.items() if key not in hidden_annotations}
    lines += [md(_cut(text, MAX_ANNOTATION_LENGTH)) for text in _summary(own)]
    if alert.values:
        lines.append("Values: " + md(_cut(alert.values, MAX_ANNOTATION_LENGTH)))
    label_line = _labels_line(alert.labels, hidden_labels)
    if label_line:
        lines.append(label_line)
    when = _when(alert, zone)
    if when:
        lines.append(when)
    links = " · ".join(_link(text, url) for text, url in alert.links)
    if links:
        lines.append(links)
    return "\n".join(lines)


def _labels_line(labels: dict[str, str], hidden: set[str]) -> str:
    names = [
        name
        for name in labels
        if name not in NOT_SHOWN_LABELS and name not in hidden and not name.startswith("__") and labels[name]
    ]
    names.sort(key=lambda name: (FIRST_LABELS.index(name) if name in FIRST_LABELS else len(FIRST_LABELS), name))
    shown = [f"{md(_cut(name, MAX_LABEL_LENGTH))}: {md(_cut(labels[name], MAX_LABEL_LENGTH))}" for name in names]
    line = " · ".join(shown[:MAX_LABELS_SHOWN])
    if len(shown) > MAX_LABELS_SHOWN:
        line += f" · +{len(shown) - MAX_LABELS_SHOWN} more"
    return line


def _when(alert: Alert, zone: tzinfo) -> str:
    if alert.starts_at is None:
        return ""
    started = _moment_text(alert.starts_at, zone)
    if alert.status == "resolved" and alert.ends_at is not None:
        lasted = _duration((alert.ends_at - alert.starts_at).total_seconds())
        return f"Started {started}, resolved {_moment_text(alert.ends_at, zone)} (after {lasted})"
    return f"Since {started}"


def _moment_text(moment: datetime, zone: tzinfo) -> str:
    try:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
    except (OverflowError, ValueError):
        return moment.isoformat()


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    shown = [f"{amount}{unit}" for amount, unit in parts if amount]
    return " ".join(shown[:2]) or "0s"


# -- Markdown --------------------------------------------------------------------------------------------------

_INLINE = re.compile(r"([\\`*_\[\]<>&~])")
# What starts a block at the start of a line: a list, heading, quote, setext underline, numbered item.
_BLOCK = re.compile(r"^([ \t]*)(?:([-+=#>|])|(\d{1,9})(?=[.)]))", re.MULTILINE)


def md(text: str) -> str:
    """`text` escaped for Markdown: it shows as it is, whatever it holds."""
    text = _INLINE.sub(r"\\\1", text)
    return _BLOCK.sub(lambda m: m[1] + (f"\\{m[2]}" if m[2] else f"{m[3]}\\"), text)


def _link(text: str, url: str) -> str:
    # Backslash escapes work in a link's destination too; _url let through no spaces.
    destination = re.sub(r"([\\()<>&])", r"\\\1", url)
    return f"[{md(text)}]({destination})"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
