"""Message templates: sandboxed Jinja2 rendering, validation of custom templates, SMS segments."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.domain.errors import InvalidInput

LANGUAGES = ("en", "fr", "sv")
PLACEHOLDERS = frozenset({"name", "business", "link", "reference"})
EMAIL_PLACEHOLDERS = PLACEHOLDERS | {"unsubscribe_link", "pixel_url"}
SMS_CUSTOM_PLACEHOLDERS = frozenset({"name", "business", "reference"})

OPT_OUT_NOTICE = {
    "en": "Reply STOP to opt out",
    "fr": "STOP pour ne plus recevoir de SMS",
    "sv": "Svara STOPP för att avregistrera dig",
}

# User-written templates run in a sandbox: no attribute tricks, no access to Python objects.
_text_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_html_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=True)
for _env in (_text_env, _html_env):
    # No helpers (range, cycler, lipsum...): a template sees only its placeholders.
    _env.globals.clear()


def render(source: str, context: dict[str, str]) -> str:
    """Render a text template.

    :raise InvalidInput: the template is broken or tries to escape the sandbox.
    """
    return _render(_text_env, source, context)


def render_html(source: str, context: dict[str, str]) -> str:
    """Render an HTML template, escaping every value."""
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


def validate_template(source: str, *, allowed: frozenset[str] | set[str], field: str) -> None:
    """Refuse a custom template with a syntax error, an unknown placeholder or a sandbox escape.

    :raise InvalidInput: on `field`, with the reason.
    """
    problem = _template_problem(source, frozenset(allowed))
    if problem is not None:
        raise InvalidInput(problem, field=field)


@lru_cache(maxsize=256)
def _template_problem(source: str, allowed: frozenset[str]) -> str | None:
    # Pure in its inputs: each stored template is checked once per process, not per message.
    try:
        parsed = _text_env.parse(source)
    except TemplateSyntaxError as exc:
        return f"Template error on line {exc.lineno}: {exc.message}"
    for node in parsed.find_all((nodes.Getattr, nodes.Getitem)):
        return f"Line {node.lineno}: only plain placeholders like {{{{ name }}}} are allowed."
    for node in parsed.find_all(nodes.Filter):
        if node.name == "attr":
            return f"Line {node.lineno}: the attr filter is not allowed."
    unknown = meta.find_undeclared_variables(parsed) - set(allowed)
    if unknown:
        names = ", ".join(f"{{{{ {n} }}}}" for n in sorted(unknown))
        known = ", ".join(f"{{{{ {n} }}}}" for n in sorted(allowed))
        return f"Unknown placeholder {names}; use {known}."
    sample = dict.fromkeys(allowed, "x")
    try:
        _compiled(_text_env, source).render(**sample)
    except (SecurityError, UndefinedError, TemplateSyntaxError) as exc:
        return f"This template isn't allowed: {exc}"
    except Exception as exc:  # noqa: BLE001  (any failure of a user template is a refusal)
        return f"This template can't be rendered: {exc}"
    return None


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
    text = render(custom_text, context).strip()
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


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int
    characters: int


def sms_segments(text: str) -> SegmentInfo:
    """Count the SMS segments a text costs (160/153 septets in GSM-7, 70/67 in UCS-2)."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        units = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
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
