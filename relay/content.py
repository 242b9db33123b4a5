"""What the chat is shown for a draft, fixed when it is accepted: text, entities, buttons.

Formatting becomes plain text with Telegram entities here (relay/formatting.py),
never parse_mode, so no text can fail to parse at Telegram; the title is a
bold first line, ntfy's emoji tags go before it, and a click address becomes
a button. Offsets count UTF-16 units of header + shown text.
"""

from dataclasses import dataclass

import emoji

from relay import formatting
from relay.drafts import Draft
from relay.splitting import split_text, utf16_len

CLICK_LABEL = "Open ↗"


@dataclass(frozen=True)
class Content:
    # Empty when the chat is shown exactly `text` (the plain message of old).
    rendered: str
    entities: list[dict]
    buttons: list[list[dict]]


def compose(draft: Draft, header: str) -> Content:
    """The shown text after the header, its entities (counted from the header's start), and the buttons."""
    buttons = [[_button(button)] for button in draft.buttons]
    buttons += [[_button(button) for button in row] for row in draft.keyboard if row]
    if draft.click:
        buttons.append([{"text": CLICK_LABEL, "url": draft.click}])
    emojis, other_tags = _tags(draft.tags)
    title = " ".join(part for part in (*emojis, draft.title.strip()) if part)
    if draft.format == "text" and not title and not other_tags:
        return Content(rendered="", entities=[], buttons=buttons)
    if draft.format == "text":
        body, entities = draft.text, []
    else:
        formatted = formatting.render(draft.text, draft.format)
        body, entities = formatted.text, formatted.entities
    shown, offset = "", 0
    if title:
        shown = title + "\n"
        if draft.title.strip():
            # The words of the title, not the emoji before them.
            start = utf16_len(title) - utf16_len(draft.title.strip())
            title_entities = [{"type": "bold", "offset": start, "length": utf16_len(draft.title.strip())}]
        else:
            title_entities = []
        offset = utf16_len(shown)
    else:
        title_entities = []
    shown += body
    entities = title_entities + shift_entities(entities, offset)
    if other_tags:
        shown += "\n" + " ".join(f"#{tag}" for tag in other_tags)
    return Content(
        rendered=shown,
        entities=shift_entities(entities, utf16_len(header)),
        buttons=buttons,
    )


def _tags(tags: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """ntfy's tags: those that name an emoji (`warning`, `+1`) become it; the rest stay words."""
    emojis, words = [], []
    for tag in tags:
        tag = tag.strip()
        if not tag:
            continue
        shown = emoji.emojize(f":{tag}:", language="alias")
        if shown != f":{tag}:":
            emojis.append(shown)
        else:
            words.append("".join(char if char.isalnum() or char == "_" else "_" for char in tag))
    return emojis, words


def text_parts(*, header: str, shown: str, entities: list[dict]) -> list[tuple[str, list[dict]]]:
    """The Telegram messages a text goes out as, each with its entities: the same every time, so a retry resumes."""
    if not entities:
        return [(part, []) for part in split_text(header, shown)]
    return formatting.split(header + shown, entities, start=len(header))


def shift_entities(entities: list[dict], by: int) -> list[dict]:
    return [{**entity, "offset": entity["offset"] + by} for entity in entities]


def _button(button) -> dict:
    return {"text": button.text, "answer": button.answer} if button.answer else {"text": button.text, "url": button.url}


def reply_markup(message_pk: int, rows: list[list[dict]]) -> dict:
    """Telegram's inline keyboard for stored rows: an answer button carries `ans:<message>:<row>.<column>`."""
    return {
        "inline_keyboard": [
            [
                {"text": button["text"], "callback_data": f"ans:{message_pk}:{r}.{c}"}
                if "answer" in button
                else {"text": button["text"], "url": button["url"]}
                for c, button in enumerate(row)
            ]
            for r, row in enumerate(rows)
        ]
    }


def answer_of(rows: list[list[dict]], place: str) -> str | None:
    """The answer of the button at `<row>.<column>`, if there is one."""
    try:
        r, c = (int(n) for n in place.split("."))
        return rows[r][c]["answer"] if r >= 0 and c >= 0 else None
    except (ValueError, IndexError, KeyError, TypeError):
        return None
