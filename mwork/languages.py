"""The languages the workflow knows, with the codes each external resource uses for them."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MworkError


def per_key(value, key: str, default=None):
    """A setting given once, or per language (per task) as a mapping with an optional ``default`` entry:
    its value for language (task) ``key``."""
    if isinstance(value, dict):
        return value.get(key, value.get("default", default))
    return value


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1, the workflow's own code
    name: str
    catalog_locales: tuple[str, ...]  # gettext locale directories, in order of preference
    oscar: str  # OSCAR-2301 language code
    wikipedia: str  # wikimedia/wikipedia config suffix (20231101.<code>)
    cld3: str  # what gcld3 returns for this language
    unspaced: bool = False  # written without spaces between words (char-level tokenization in metrics)


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in [
        Language("en", "English", (), "en", "en", "en"),
        Language("de", "German", ("de",), "de", "de", "de"),
        Language("fr", "French", ("fr",), "fr", "fr", "fr"),
        Language("zh", "Chinese", ("zh_Hans", "zh_CN", "zh"), "zh", "zh", "zh", unspaced=True),
        Language("es", "Spanish", ("es",), "es", "es", "es"),
        Language("ru", "Russian", ("ru",), "ru", "ru", "ru"),
        Language("vi", "Vietnamese", ("vi",), "vi", "vi", "vi"),
        Language("th", "Thai", ("th",), "th", "th", "th", unspaced=True),
        Language("ar", "Arabic", ("ar",), "ar", "ar", "ar"),
        Language("sw", "Swahili", ("sw",), "sw", "sw", "sw"),
        Language("ja", "Japanese", ("ja",), "ja", "ja", "ja", unspaced=True),
    ]
}


def get_language(code: str, where: str = "language") -> Language:
    """Look up a language code; the error names `where` (a config path) and lists the known codes."""
    try:
        return LANGUAGES[code]
    except KeyError:
        raise MworkError(
            f"{where}: {code!r} is not a known language code (known: {', '.join(sorted(LANGUAGES))})"
        ) from None
