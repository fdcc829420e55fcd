"""Languages: Babel catalogues (nl, fr, en) under `locale/`, compiled in memory at start
(the `.po` files are committed, no `.mo`); dates and numbers through Babel.

The language of a page: the user's choice (kept in the session, or a cookie before
sign-in), else the best of `Accept-Language`, else Dutch.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, pass_eval_context, select_autoescape
from jinja2.nodes import EvalContext
from markupsafe import Markup

HERE = Path(__file__).parent
LOCALE_DIR = HERE / "locale"
TEMPLATES = HERE / "templates"
LANGUAGES = ("nl", "fr", "en")
DEFAULT_LANGUAGE = "nl"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> Translations:
    """The language's catalogue, compiled from its `.po` in memory."""
    with po_path(language).open("rb") as f:
        catalog = read_po(f, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def negotiate(accept_language: str | None) -> str | None:
    """The best of our languages for an Accept-Language header, or None."""
    if not accept_language:
        return None
    wanted: list[tuple[float, str]] = []
    for part in accept_language.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag:
            wanted.append((q, tag.strip().replace("_", "-")))
    wanted.sort(key=lambda w: -w[0])
    try:
        best = Locale.negotiate([t for q, t in wanted if q > 0], list(LANGUAGES), sep="-")
    except (UnknownLocaleError, ValueError):
        return None
    return best.language if best else None


def choose(chosen: str | None, accept_language: str | None) -> str:
    if chosen in LANGUAGES:
        assert chosen is not None
        return chosen
    return negotiate(accept_language) or DEFAULT_LANGUAGE


def language_name(code: str, in_language: str) -> str:
    """A language's name in another language (`nl` in French: `néerlandais`)."""
    try:
        name = Locale.parse(in_language).languages.get(code)
    except (UnknownLocaleError, ValueError):
        name = None
    return name or code


def own_name(code: str) -> str:
    """A language's name in itself (`Nederlands`), as a language switcher shows it."""
    name = language_name(code, code)
    return name[:1].upper() + name[1:]


class Localised:
    """Everything a page needs of its language (and the agency's time zone)."""

    def __init__(self, language: str, timezone: str = "Europe/Amsterdam") -> None:
        self.language = language
        self.locale = Locale.parse(language)
        self.t = translations(language)
        try:
            self.tz: tzinfo | None = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.tz = None

    def gettext(self, message: str, **values: object) -> str:
        text = self.t.gettext(message)
        return text % values if values else text

    def day(self, value: date | str | None, format: str = "medium") -> str:
        """A date (or the date of a moment), in the page's language."""
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            try:
                parsed = (
                    datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
                )
            except ValueError:
                return value
        else:
            parsed = value
        if isinstance(parsed, datetime):
            # A moment's day is the agency's (its time zone), not UTC's.
            if parsed.tzinfo is not None and self.tz is not None:
                parsed = parsed.astimezone(self.tz)
            parsed = parsed.date()
        return _day(parsed, format, self.locale)

    def moment(self, value: datetime | str | None, format: str = "minutes") -> str:
        """A date and time, in the page's language: to the minute (the date as `medium`, the
        time as `short`), or in one of Babel's formats (`medium`: to the second, as the
        auditor's pages show)."""
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return value
        else:
            parsed = value
        if format != "minutes":
            return format_datetime(parsed, format, tzinfo=self.tz, locale=self.locale)
        if parsed.tzinfo is not None and self.tz is not None:
            parsed = parsed.astimezone(self.tz)
        pattern = self.locale.datetime_formats["medium"]
        day = format_date(parsed, "medium", locale=self.locale)
        hour = format_time(parsed, "short", locale=self.locale)
        return str(pattern).replace("{1}", day).replace("{0}", hour)

    def number(self, value: float | int | None) -> str:
        return "" if value is None else _number(value, self.locale)


# A list page formats the same few days and numbers again and again (Babel takes tens
# of microseconds each time).
@lru_cache(maxsize=4096)
def _day(value: date, format: str, locale: Locale) -> str:
    return format_date(value, format, locale=locale)


@lru_cache(maxsize=1024)
def _number(value: float | int, locale: Locale) -> str:
    return format_decimal(value, locale=locale)


def page_gettext(t: Translations) -> Callable[..., str]:
    """`_()` in the templates, as the i18n extension's newstyle gettext does it (the
    message translated, marked safe when autoescaping and formatted with the escaped
    values, always, so that `%%` is a percent sign) in one call where the extension makes
    three through Jinja's context: a page calls it a hundred times and more."""

    @pass_eval_context
    def gettext(eval_ctx: EvalContext, message: str, /, **values: object) -> str:
        text = t.gettext(message)
        return (Markup(text) if eval_ctx.autoescape else text) % values

    return gettext


@cache
def environment(language: str, timezone: str = "Europe/Amsterdam") -> Environment:
    """The templates, translated into one language (one Jinja environment per language)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["_"] = page_gettext(translations(language))
    local = Localised(language, timezone)
    more_than = translations(language).gettext(N_("more than %(count)s"))

    def total(listed: object) -> str:
        """A list's total as a caption says it: "more than 10,000" when the API's count
        stopped at its cap."""
        count = local.number(getattr(listed, "total", 0))
        return more_than % {"count": count} if getattr(listed, "capped", False) else count

    filters: dict[str, Callable[..., str]] = {
        "date": local.day,
        "datetime": local.moment,
        "number": local.number,
        "total": total,
        "language_name": lambda code: language_name(code, language),
    }
    env.filters.update(filters)
    env.globals["own_name"] = own_name
    env.globals["LANGUAGES"] = LANGUAGES
    return env
