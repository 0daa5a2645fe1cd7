"""Answer extraction and metrics of the four tasks, language-aware.

* reasoning (MGSM): read up to the next localized "Question:" (where a rambling model starts a new
  problem), the number after the localized "The answer is" (e.g. "Die Antwort ist 42."), else after the
  localized "Answer:", else the last number; numbers under each language's conventions (1,234.5 /
  1.234,5 / 1 234,5; "2-1" is two numbers, "0.125" a decimal); accuracy against ``answer_number``.
* understanding (XQuAD): the paper reports accuracy, defined here as "the normalized gold answer is
  contained in the normalized prediction"; SQuAD exact match and F1 are reported too, with a
  tokenization that splits Chinese, Japanese and Thai into characters (whitespace tokens would make
  Chinese F1 equal to exact match).
* knowledge (X-CSQA): on the NFKC-normalized generation (full-width letters and brackets become ASCII),
  the option letter the generation starts with ("B", "B.", "(B)", "(c)", "B)"; a capital followed by a
  word, like the article in "A river", is not a choice); else the letter right after the localized "The
  answer is" or "Answer:" ("The answer is B.", "答案是B", "Answer: (c)"); else the option whose text the
  generation contains (the longest such text, so "Parisville" beats "Paris"); accuracy against
  ``answerKey``.
* generation (XL-Sum): ROUGE-L F1 (``rouge-score``) with a Unicode-aware tokenizer (characters for
  zh/ja/th, lowercased word runs otherwise). ``rougeL_ascii`` is the library's default tokenizer, which
  keeps only [a-z0-9] and so scores Chinese, Russian, Thai and Arabic on digits and Latin letters alone.
"""

from __future__ import annotations

import re
import string
import unicodedata

from ..languages import get_language
from .prompts import CHOICE_LABELS, phrases

# --------------------------------------------------------------------------------------------------
# numbers and answer cues

_THIN = "\u00a0\u202f\u2009"  # no-break, narrow no-break and thin spaces: thousands groups in any language
# A sign only where a number starts ("-3", "(−3)"), never between two numbers ("2-1" is 2 and 1); digits
# joined by separators, a plain space only before exactly three digits (checked per language below).
_NUMBER = {spaced: re.compile(rf"(?<![\w.,])([-\u2212](?=\d))?(\d+(?:(?:[.,{_THIN}]{space})\d+)*)")
           for spaced, space in ((True, r"|[ ](?=\d{3}(?!\d))"), (False, ""))}
_SEP = re.compile(rf"[.,{_THIN} ]")


# How each language writes numbers (CLDR): a decimal comma (1.234,5 or 1 234,5) rather than a decimal point
# (1,234.5); thousands grouped with spaces (1 234), which are then read with a plain space too.
DECIMAL_COMMA = {"de", "fr", "es", "ru", "vi"}
SPACE_GROUPS = {"fr", "ru"}


def _value(sign: str, body: str, lang: str | None) -> float:
    """One number's value under the language's conventions (``DECIMAL_COMMA``: 1.234,5; else 1,234.5).

    A separator followed by groups of exactly three digits after a first group of 1-3 digits without a
    leading zero is a thousands separator (so "0.125" is a decimal, "18.000" eighteen thousand in German);
    the language's decimal mark before the last part is a decimal point; a lone separator that cannot
    group is a decimal point whatever the language ("12.5", "3,5").
    """
    if lang:
        get_language(lang)
    decimal = "," if lang in DECIMAL_COMMA else "."
    parts, seps = _SEP.split(body), _SEP.findall(body)
    neg = -1.0 if sign else 1.0
    if not seps:
        return neg * float(parts[0])

    def grouped(n: int) -> bool:  # parts[0..n] are thousands groups
        return 1 <= len(parts[0]) <= 3 and parts[0][0] != "0" and all(len(p) == 3 for p in parts[1:n + 1])

    last = len(seps) - 1
    if len(set(seps)) == 1:
        if len(seps) == 1 and seps[0] == decimal and lang:
            return neg * float(f"{parts[0]}.{parts[1]}")
        if grouped(len(seps)):
            return neg * float("".join(parts))
        if len(seps) == 1 and seps[0] in ".,":
            return neg * float(f"{parts[0]}.{parts[1]}")
        return neg * float(parts[0])  # "1.2.3", "3 12": not one number; its first part
    if seps[last] in ".," and len(set(seps[:last])) == 1 and seps[0] != seps[last] and grouped(last):
        return neg * float("".join(parts[:-1]) + "." + parts[-1])  # 1,234.5 / 1.234,5 / 1 234,5
    return neg * float(parts[0])


def _numbers(text: str, lang: str | None):
    """(start, value) of every number in ``text``; plain-space groups only where the language writes them."""
    spaced = lang in SPACE_GROUPS
    for m in _NUMBER[spaced].finditer(text):
        yield m.start(), _value(m.group(1) or "", m.group(2), lang)


def parse_number(text: str, lang: str | None = None) -> float | None:
    """The first number in ``text`` under ``lang``'s conventions ('1,234' / '1.234' / '1 234' / '1.234,5' /
    '12.5' / '3,5' / '0.125'); without a language a lone ',' or '.' before three digits groups thousands."""
    for _, value in _numbers(text, lang):
        return value
    return None


def cue_forms(phrase: str) -> list[str]:
    """A localized cue as a model may write it: "Answer:" also as "Answer :" and "Answer：" (and back)."""
    base = phrase.strip().rstrip(":：").rstrip()
    if base == phrase.strip():
        return [base]
    return [base + ":", base + " :", base + "："]


def answer_cues(lang: str) -> tuple[list[str], list[str]]:
    """(the localized "The answer is", the localized "Answer:" in its forms), casefolded: the cues an
    answer follows, the first preferred."""
    p = phrases(lang)
    said = p["the_answer_is"].split("{n}")[0].strip().casefold()
    return ([said] if said else []), [c.casefold() for c in cue_forms(p["answer"])]


def question_cues(lang: str) -> list[str]:
    """How a rambling model starts a new question ("Question:", "Frage:", "问题：")."""
    return cue_forms(phrases(lang)["question"])


def question_stops(lang: str) -> list[str]:
    """MGSM's own stop strings: a new question on a new line (one that opens the answer, restating the
    problem, is not a stop)."""
    return ["\n" + c for c in question_cues(lang)]


def _until_question(text: str, lang: str) -> str:
    """The text before a new question that follows some answer (a restated question at the start stays)."""
    start = len(text) - len(text.lstrip())
    cuts = [i for c in question_cues(lang) for i in [text.find(c, start + 1)] if i > start]
    return text[:min(cuts)] if cuts else text


def _after_cue(text: str, lang: str) -> list[str]:
    """The text after the first localized "The answer is", then after the first "Answer:" (when present)."""
    folded, out = text.casefold(), []
    for cues in answer_cues(lang):
        hits = [(i, len(c)) for c in cues for i in [folded.find(c)] if i >= 0]
        if hits:
            i, n = min(hits)
            out.append(text[i + n:])
    return out


def extract_number(generation: str, lang: str) -> float | None:
    """The answer of a math word problem, read up to the next localized "Question:" (a rambling model's
    new question is not its answer): the number after the localized "The answer is", else after
    "Answer:", else the last number."""
    text = _until_question(generation, lang)
    for tail in _after_cue(text, lang):
        n = parse_number(tail, lang)
        if n is not None:
            return n
    nums = list(_numbers(text, lang))
    return nums[-1][1] if nums else None


# --------------------------------------------------------------------------------------------------
# SQuAD-style normalization, language-aware

_PUNCT = {c for c in string.punctuation} | {"。", "，", "、", "？", "！", "：", "；", "「", "」", "『", "』", "（", "）",
                                           "《", "》", "“", "”", "‘", "’", "«", "»", "—", "–", "…", "¿", "¡", "·"}


def _strip_punct(text: str) -> str:
    return "".join(" " if (ch in _PUNCT or unicodedata.category(ch).startswith("P")) else ch for ch in text)


def normalize_answer(text: str, lang: str) -> str:
    """Lowercase, drop punctuation, English articles and extra whitespace (SQuAD's normalization)."""
    text = _strip_punct(unicodedata.normalize("NFKC", text).lower())
    if lang == "en":
        text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def answer_tokens(text: str, lang: str) -> list[str]:
    """Tokens for F1: characters for languages written without spaces, else whitespace tokens."""
    norm = normalize_answer(text, lang)
    if get_language(lang).unspaced:
        return [ch for ch in norm if not ch.isspace()]
    return norm.split()


def exact_match(prediction: str, gold: str, lang: str) -> float:
    return float(normalize_answer(prediction, lang) == normalize_answer(gold, lang))


def f1(prediction: str, gold: str, lang: str) -> float:
    from collections import Counter

    p, g = answer_tokens(prediction, lang), answer_tokens(gold, lang)
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    prec, rec = common / len(p), common / len(g)
    return 2 * prec * rec / (prec + rec)


def contains_answer(prediction: str, gold: str, lang: str) -> bool:
    """The paper's XQuAD 'accuracy': the normalized gold answer occurs in the normalized prediction."""
    g = normalize_answer(gold, lang)
    p = normalize_answer(prediction, lang)
    if not g:
        return False
    if get_language(lang).unspaced:
        return g.replace(" ", "") in p.replace(" ", "")
    return f" {g} " in f" {p} "


# --------------------------------------------------------------------------------------------------
# multiple choice

# a leading option letter: "B", "B.", "(B)", "B)", "[b]", "c)" -- not the article in "A river"
_LETTER_START = re.compile(r"^\s*(?:[\(\[]\s*([A-Ea-e])\s*[\)\]]|([A-E])\s*(?:[\).:：、,]|$)|([a-e])\s*[\).])")
# a letter right after an answer cue: "The answer is B.", "Answer: (c)", "答案是B"
_LETTER_AFTER_CUE = re.compile(r"^\s*(?:is\s+)?[\(\[]?\s*([A-Ea-e])(?![A-Za-z])")


def extract_choice(generation: str, labels: list[str], texts: list[str], lang: str) -> str | None:
    """The chosen option's label, from the NFKC-normalized generation (full-width "Ｂ" is "B"): a leading
    option letter; else a letter right after the localized "The answer is" or "Answer:" cue; else the
    longest option text the generation contains."""
    text = unicodedata.normalize("NFKC", generation)
    m = _LETTER_START.match(text)
    if m:
        letter = next(g for g in m.groups() if g).upper()
        if letter in labels:
            return letter
    for tail in _after_cue(text, lang):
        m = _LETTER_AFTER_CUE.match(tail)
        if m and m.group(1).upper() in labels and (m.group(1).isupper() or "(" in tail[:m.end()]
                                                   or "[" in tail[:m.end()]):
            return m.group(1).upper()
    norm = normalize_answer(text, lang)
    found = [(len(t), lab) for lab, t in zip(labels, texts)
             if normalize_answer(t, lang) and contains_answer(norm, t, lang)]
    return max(found)[1] if found else None


# --------------------------------------------------------------------------------------------------
# ROUGE-L


class UnicodeTokenizer:
    """rouge-score tokenizer: characters for zh/ja/th, lowercased Unicode word runs otherwise."""

    _word = re.compile(r"\w+", re.UNICODE)

    def __init__(self, lang: str):
        self.unspaced = get_language(lang).unspaced

    def tokenize(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).lower()
        if self.unspaced:
            return [ch for ch in text if unicodedata.category(ch)[0] in "LNM"]  # Thai vowel signs are marks
        return self._word.findall(text)


def rouge_l(prediction: str, reference: str, lang: str) -> tuple[float, float]:
    """(ROUGE-L F1 with the Unicode tokenizer, ROUGE-L F1 with rouge-score's default ASCII tokenizer)."""
    from rouge_score import rouge_scorer

    uni = rouge_scorer.RougeScorer(["rougeL"], tokenizer=UnicodeTokenizer(lang))
    ascii_ = rouge_scorer.RougeScorer(["rougeL"])
    return (uni.score(reference, prediction)["rougeL"].fmeasure,
            ascii_.score(reference, prediction)["rougeL"].fmeasure)


__all__ = ["extract_number", "parse_number", "answer_cues", "question_cues", "cue_forms", "normalize_answer", "exact_match", "f1", "contains_answer",
           "extract_choice", "rouge_l", "UnicodeTokenizer", "CHOICE_LABELS"]
