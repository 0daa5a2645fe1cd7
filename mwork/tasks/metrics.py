"""Answer extraction and metrics of the four tasks, language-aware.

* reasoning (MGSM): the number after the localized "The answer is" (e.g. "Die Antwort ist 42."),
  else the last number in the generation; accuracy against ``answer_number``.
* understanding (XQuAD): the paper reports accuracy, defined here as "the normalized gold answer is
  contained in the normalized prediction"; SQuAD exact match and F1 are reported too, with a
  tokenization that splits Chinese, Japanese and Thai into characters (whitespace tokens would make
  Chinese F1 equal to exact match).
* knowledge (X-CSQA): the chosen option is the option letter the generation starts with ("B", "B.",
  "(B)", "B)"; a letter followed by a word, like the article in "A river", is not a choice); failing that, the option whose text the generation contains (the longest
  such text, so "Parisville" beats "Paris"); accuracy against ``answerKey``.
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
# numbers

# grouped thousands ("1,234", "18.000", "1 234") first, then plain numbers with an optional decimal part
_NUMBER = re.compile(r"-?\d{1,3}(?:[,.\u00a0\u202f]\d{3})+(?:[.,]\d+)?(?!\d)|-?\d+(?:[.,]\d+)?")


def parse_number(text: str) -> float | None:
    """The first number in ``text``: '1,234' / '18.000' / '1 234' / '1.234,5' / '12.5' / '3,5' -> float."""
    m = _NUMBER.search(text)
    if not m:
        return None
    s = re.sub(r"[\u00a0\u202f]", "", m.group(0))
    seps = [c for c in s if c in ",."]
    if len(seps) > 1:  # several separators: the last is decimal if it differs from the grouping one
        last = s.rfind(seps[-1])
        if seps[-1] != seps[0]:
            s = s[:last].replace(seps[0], "") + "." + s[last + 1:]
        else:
            s = s.replace(seps[0], "")
    elif seps:
        head, tail = s.split(seps[0])
        grouped = len(tail) == 3 and 1 <= len(head.lstrip("-")) <= 3
        s = head + tail if grouped else head + "." + tail
    try:
        return float(s)
    except ValueError:
        return None


def extract_number(generation: str, lang: str) -> float | None:
    """The answer of a math word problem: after the localized "The answer is", else the last number."""
    cue = phrases(lang)["the_answer_is"].split("{n}")[0].strip()
    idx = generation.find(cue) if cue else -1  # the first cue: later ones may answer a rambled new question
    if idx >= 0:
        n = parse_number(generation[idx + len(cue):])
        if n is not None:
            return n
    nums = list(_NUMBER.finditer(generation))
    return parse_number(nums[-1].group(0)) if nums else None


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

_LETTER_START = re.compile(r"^\s*[\(\[]?\s*([A-E])\s*(?:[\)\].:：、,]|$)")  # not the article "A river"


def extract_choice(generation: str, labels: list[str], texts: list[str], lang: str) -> str | None:
    """The chosen option's label: a leading option letter, else the longest option text contained."""
    m = _LETTER_START.match(generation)
    if m and m.group(1) in labels:
        return m.group(1)
    norm = normalize_answer(generation, lang)
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


__all__ = ["extract_number", "parse_number", "normalize_answer", "exact_match", "f1", "contains_answer",
           "extract_choice", "rouge_l", "UnicodeTokenizer", "CHOICE_LABELS"]
