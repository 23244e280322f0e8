"""Message templates: our own in sandboxed Jinja2, a workspace's own as plain placeholders.

Our default templates (bot/templates) are Jinja2, rendered in a sandbox. A workspace's own
texts (SMS text, email subject and body) are plain text and `{{ name }}`-style placeholders
only: no expressions, filters, tags or attributes, so one can't ask for gigabytes or seconds
at send time. They are checked when saved (`validate_template`, `validate_sms_text`), with
the longest realistic values against the channel's limits, and again when rendered (`fill`),
because a text saved under older rules may still be stored; such a text fails the message
with the reason instead of being sent.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.domain.errors import InvalidInput

LANGUAGES = ("en", "fr", "sv")
# The one list of placeholders, by where a workspace's own text may use them.
PLACEHOLDERS = frozenset({"name", "business", "link", "reference"})
EMAIL_PLACEHOLDERS = PLACEHOLDERS | {"unsubscribe_link", "pixel_url"}
SMS_CUSTOM_PLACEHOLDERS = frozenset({"name", "business", "reference"})

# The longest realistic value of each placeholder: the request's name and reference columns
# (100), the business name setting (80), and a link: a PUBLIC_URL of up to 90 characters,
# "/r/" and a 24-character token.
LINK_MAX = 120
LONGEST = {
    "name": 100,
    "business": 80,
    "reference": 100,
    "link": LINK_MAX,
    "unsubscribe_link": LINK_MAX,
    "pixel_url": LINK_MAX,
}
# The channels' limits a workspace's text must fit with the longest values.
SMS_MAX_SEGMENTS = 10  # Twilio's 1600-character cap is about 10 segments; carriers drop more
EMAIL_SUBJECT_MAX = (
    300  # characters, as stored (store/models.py SUBJECT_MAX); mail clients show fewer
)
EMAIL_BODY_MAX = 50_000  # characters; Gmail clips a message at about 100 kB of HTML
RENDER_MAX = 100_000  # characters: no rendering of a workspace's text gives more

OPT_OUT_NOTICE = {
    "en": "Reply STOP to opt out",
    "fr": "STOP pour ne plus recevoir de SMS",
    "sv": "Svara STOPP för att avregistrera dig",
}

# Our own templates run in a sandbox all the same, with no helpers (range, cycler, lipsum...).
_text_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_html_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=True)
for _env in (_text_env, _html_env):
    _env.globals.clear()


def render(source: str, context: dict[str, str]) -> str:
    """Render one of our own text templates (bot/templates); a workspace's text uses `fill`.

    :raise InvalidInput: the template is broken or tries to escape the sandbox.
    """
    return _render(_text_env, source, context)


def render_html(source: str, context: dict[str, str]) -> str:
    """Render one of our own HTML templates, escaping every value."""
    return _render(_html_env, source, context)


@lru_cache(maxsize=256)
def _compiled(env: ImmutableSandboxedEnvironment, source: str) -> Template:
    # Compiling costs a parse and a code generation; a compiled template is immutable.
    return env.from_string(source)


def _render(env: ImmutableSandboxedEnvironment, source: str, context: dict[str, str]) -> str:
    try:
        return _compiled(env, source).render(**context)
    except (SecurityError, UndefinedError, TemplateSyntaxError) as exc:
        raise InvalidInput(f"The template can't be used: {exc}", field="template") from exc


# --- a workspace's own text: plain text and placeholders ----------------------------------------

# Jinja2's three kinds of markup: {{ expression }}, {% tag %}, {# comment #}, found by their
# opener and then the first closer after it (str.find): one pass over the text, where a lazy
# pattern would rescan the rest of the text from every unclosed opener (quadratic).
_OPENER = re.compile(r"\{[{%#]")
_CLOSERS = {"{{": "}}", "{%": "%}", "{#": "#}"}
_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*")
_FILTER = re.compile(r"\|\s*([A-Za-z_][A-Za-z0-9_]*)")
_ONLY = "only plain placeholders like {{ name }} are allowed"

Part = tuple[str, str | None]  # (text before, placeholder name or None at the end)


@dataclass(frozen=True)
class Scanned:
    """A workspace's text cut into plain text and placeholders, or why it can't be."""

    parts: tuple[Part, ...] = ()
    problem: str | None = None


@lru_cache(maxsize=256)
def scan(source: str) -> Scanned:
    """Cut a text into plain text and `{{ name }}` placeholders; name the first other markup.

    Pure in its input: a stored text is scanned once per process, not per message.
    """
    parts: list[Part] = []
    at = 0
    while (opened := _OPENER.search(source, at)) is not None:
        start = opened.start()
        end = source.find(_CLOSERS[opened.group(0)], start + 2)
        if end < 0:
            line = _line(source, start)
            return Scanned(
                problem=f"Template error on line {line}: `{_clip(source[start:])}` is not "
                f"closed; {_ONLY}."
            )
        markup = source[start : end + 2]
        problem = _not_a_placeholder(source, start, markup)
        if problem is not None:
            return Scanned(problem=problem)
        named = _NAME.fullmatch(markup[2:-2])
        assert named is not None  # _not_a_placeholder said so
        parts.append((source[at:start], named.group(1)))
        at = end + 2
    parts.append((source[at:], None))
    return Scanned(parts=tuple(parts))


def _line(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def _clip(snippet: str) -> str:
    snippet = " ".join(snippet[:200].split())
    return snippet if len(snippet) <= 60 else snippet[:59] + "…"


def _not_a_placeholder(source: str, start: int, markup: str) -> str | None:
    expression = markup[2:-2]
    if markup.startswith("{{") and _NAME.fullmatch(expression):
        return None
    # Only a refusal counts lines (counting for every placeholder would be quadratic).
    where = f"Template error on line {_line(source, start)}: `{_clip(markup)}`"
    if markup.startswith("{%"):
        return f"{where} is a tag; {_ONLY}."
    if markup.startswith("{#"):
        return f"{where} is a comment; {_ONLY}."
    filtered = _FILTER.search(expression)
    if filtered:
        return f"{where}: the {filtered.group(1)} filter is not allowed; {_ONLY}."
    if "." in expression or "[" in expression:
        return f"{where}: attribute access is not allowed; {_ONLY}."
    return f"{where} is an expression, not a placeholder; {_ONLY}."


def _problem(source: str, allowed: frozenset[str]) -> str | None:
    scanned = scan(source)
    if scanned.problem is not None:
        return scanned.problem
    unknown = {name for _, name in scanned.parts if name is not None} - allowed
    if unknown:
        names = ", ".join(f"{{{{ {n} }}}}" for n in sorted(unknown))
        known = ", ".join(f"{{{{ {n} }}}}" for n in sorted(allowed))
        return f"Unknown placeholder {names}; use {known}."
    return None


def fill(
    source: str,
    context: dict[str, str],
    *,
    allowed: frozenset[str] = EMAIL_PLACEHOLDERS,
    limit: int = RENDER_MAX,
) -> str:
    """Render a workspace's own text: its plain text, each placeholder replaced by its value.

    :raise InvalidInput: the text is not plain text and `allowed` placeholders (it may have
        been saved under older rules), or it would be longer than `limit` characters.
    """
    problem = _problem(source, allowed & frozenset(context))
    if problem is not None:
        raise InvalidInput(problem, field="template")
    pieces: list[str] = []
    size = 0
    for text, name in scan(source).parts:
        for piece in (text, context[name] if name is not None else ""):
            size += len(piece)
            if size > limit:
                raise InvalidInput(f"It would be over {limit} characters.", field="template")
            pieces.append(piece)
    return "".join(pieces)


def _longest(allowed: frozenset[str]) -> dict[str, str]:
    return {name: "x" * LONGEST.get(name, LINK_MAX) for name in allowed}


def validate_template(
    source: str, *, allowed: frozenset[str] | set[str], field: str, max_chars: int = EMAIL_BODY_MAX
) -> None:
    """Refuse a workspace's text that is not plain text and known placeholders, or that is
    longer than `max_chars` once filled with the longest realistic values.

    :raise InvalidInput: on `field`, with the reason.
    """
    known = frozenset(allowed)
    problem = _problem(source, known)
    if problem is None:
        longest = len(fill(source, _longest(known), allowed=known, limit=RENDER_MAX * 10))
        if longest > max_chars:
            problem = (
                f"With the longest names, links and references this text is {longest} "
                f"characters; at most {max_chars}. Use fewer placeholders."
            )
    if problem is not None:
        raise InvalidInput(problem, field=field)


def validate_sms_text(source: str, *, field: str) -> None:
    """Refuse a workspace's SMS text that is not plain text and its placeholders, or whose SMS
    (with the link and STOP notice) would cost more than SMS_MAX_SEGMENTS with the longest
    realistic values, in any language.

    :raise InvalidInput: on `field`, with the reason.
    """
    problem = _problem(source, SMS_CUSTOM_PLACEHOLDERS)
    if problem is None:
        context = _longest(PLACEHOLDERS)
        worst = max(sms_segments(compose_sms(source, context, lang)).segments for lang in LANGUAGES)
        if worst > SMS_MAX_SEGMENTS:
            problem = (
                f"With the longest names and references this SMS takes {worst} segments; "
                f"at most {SMS_MAX_SEGMENTS}. Use fewer placeholders."
            )
    if problem is not None:
        raise InvalidInput(problem, field=field)


@lru_cache(maxsize=64)
def load_default(part: str, language: str) -> str:
    """Return a default template (e.g. "sms.txt.j2") in a language, English when unknown."""
    lang = language if language in LANGUAGES else "en"
    return (
        resources.files("bot.templates").joinpath(lang).joinpath(part).read_text(encoding="utf-8")
    )


def compose_sms(custom_text: str | None, context: dict[str, str], language: str) -> str:
    """Build the SMS: the workspace's text (or the default), then the link and opt-out notice."""
    if not custom_text:
        return render(load_default("sms.txt.j2", language), context).strip()
    lang = language if language in LANGUAGES else "en"
    text = fill(custom_text, context, allowed=SMS_CUSTOM_PLACEHOLDERS).strip()
    return f"{text} {context['link']} {OPT_OUT_NOTICE[lang]}"


_URL = re.compile(r"(https?://[^\s<]+)")


def plain_to_html(text: str, *, unsubscribe_url: str, pixel_url: str | None = None) -> str:
    """Turn a rendered plain-text email into simple HTML: escaped, in paragraphs, links live.

    Used for a workspace's own email body, so the HTML part says what the text part says.
    """
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    parts = []
    for paragraph in paragraphs:
        linked = _URL.sub(r'<a href="\1">\1</a>', html.escape(paragraph))
        parts.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    if unsubscribe_url not in text:
        link = html.escape(unsubscribe_url)
        parts.append(f'<p style="font-size:12px;color:#777;"><a href="{link}">Unsubscribe</a></p>')
    if pixel_url:
        parts.append(f'<img src="{html.escape(pixel_url)}" width="1" height="1" alt="">')
    body = "\n".join(parts)
    return (
        '<!doctype html>\n<html>\n<body style="font-family: Arial, sans-serif; color: #222;">\n'
        f"{body}\n</body>\n</html>\n"
    )


# GSM 03.38: the basic set costs one septet, the extension table two (escape + char).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")
_GSM_ALL = frozenset(_GSM_BASIC | _GSM_EXTENDED)


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int
    characters: int


def sms_segments(text: str) -> SegmentInfo:
    """Count the SMS segments a text costs (160/153 septets in GSM-7, 70/67 in UCS-2)."""
    # Set and str.count work in C: a per-character generator cost more than the rest of a send.
    if _GSM_ALL.issuperset(text):
        units = len(text) + sum(text.count(c) for c in _GSM_EXTENDED)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        # UTF-16 code units: characters outside the BMP (emoji) take two.
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        segments = 1 if units else 0
    else:
        segments = -(-units // multi)
    return SegmentInfo(encoding, segments, len(text))
