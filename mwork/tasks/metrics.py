"""Answer extraction and metrics of the four tasks, language-aware.

* reasoning (MGSM): read up to the next localized "Question:" (where a rambling model starts a new
  problem), the number after the localized "The answer is" (e.g. "Die Antwort ist 42."), else after the
  localized "Answer:", else the last number; numbers in any language's conventions (1,234.5 /
  1.234,5 / 1 234,5; "2-1" is two numbers, "0.125" a decimal, "1,000" a thousand, "赚18美元" 18);
  accuracy against ``answer_number``.
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
from collections import Counter

from ..languages import get_language
from .prompts import CHOICE_LABELS, phrases

# --------------------------------------------------------------------------------------------------
# numbers and answer cues

_THIN = "\u00a0\u202f\u2009"  # no-break, narrow no-break and thin spaces
# A sign only where a number starts ("-3", "(−3)"), never between two numbers ("2-1" is 2 and 1); a number
# starts after anything but a digit or a separator (also right after a Chinese character: "赚18美元");
# digits joined by separators, a plain space only before exactly three digits ("10 000").
_NUMBER = re.compile(rf"(?:(?<![\w)])([-\u2212])(?=\d))?(?<![\d.,])(\d+(?:(?:[.,{_THIN}]|[ ](?=\d{{3}}(?!\d)))\d+)*)")
_SEP = re.compile(rf"[.,{_THIN} ]")


def _value(sign: str, body: str) -> float:
    """One number's value, whichever of the conventions it is written in (1,234.5 in en/zh; 1.234,5 in
    de/es; 1 234,5 in fr/ru; DIN's and SI's 10 000 anywhere).

    A separator before groups of exactly three digits, after a first group of 1-3 digits without a leading
    zero, groups thousands -- in every language, so "1,000" is a thousand in German text too (MGSM's
    answers are integers, and models write English grouping in any language); "0.125" is a decimal. A
    different last separator before the groups' end is the decimal mark (1,234.5 / 1.234,5 / 1 234,5); a
    lone separator that cannot group is a decimal mark ("12.5", "3,5").
    """
    parts, seps = _SEP.split(body), _SEP.findall(body)
    neg = -1.0 if sign else 1.0
    if not seps:
        return neg * float(parts[0])

    def grouped(n: int) -> bool:  # parts[0..n] are thousands groups
        return 1 <= len(parts[0]) <= 3 and parts[0][0] != "0" and all(len(p) == 3 for p in parts[1:n + 1])

    last = len(seps) - 1
    if len(set(seps)) == 1:
        if grouped(len(seps)):
            return neg * float("".join(parts))
        if len(seps) == 1 and seps[0] in ".,":
            return neg * float(f"{parts[0]}.{parts[1]}")
        return neg * float(parts[0])  # "1.2.3": not one number; its first part
    if seps[last] in ".," and len(set(seps[:last])) == 1 and seps[0] != seps[last] and grouped(last):
        return neg * float("".join(parts[:-1]) + "." + parts[-1])  # 1,234.5 / 1.234,5 / 1 234,5
    return neg * float(parts[0])


def _numbers(text: str):
    """(start, value) of every number in ``text``."""
    for m in _NUMBER.finditer(text):
        yield m.start(), _value(m.group(1) or "", m.group(2))


def parse_number(text: str, lang: str | None = None) -> float | None:
    """The first number in ``text`` ('1,234' / '1.234' / '1 234' / '1.234,5' / '12.5' / '3,5' / '0.125');
    ``lang`` is checked to be known (the grammar reads every language's conventions)."""
    if lang:
        get_language(lang)
    for _, value in _numbers(text):
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


def _last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (braces balanced), or None."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j]
    return None


def extract_number(generation: str, lang: str) -> float | None:
    """The answer of a math word problem, read up to the next localized "Question:" (a rambling model's
    new question is not its answer): the last LaTeX ``\\boxed{...}`` (a fraction ``\\frac{a}{b}`` in it is
    a / b), where chat models put their final answer; else the number after the localized "The answer
    is", else after "Answer:", else the last number."""
    text = _until_question(generation, lang)
    boxed = _last_boxed(text)
    if boxed is not None:
        frac = re.fullmatch(r"\s*(-?)\s*\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}\s*", boxed)
        if frac:
            num, den = parse_number(frac.group(2), lang), parse_number(frac.group(3), lang)
            if num is not None and den:
                return (-1 if frac.group(1) else 1) * num / den
        n = parse_number(boxed, lang)
        if n is not None:
            return n
    for tail in _after_cue(text, lang):
        n = parse_number(tail, lang)
        if n is not None:
            return n
    nums = list(_numbers(text))
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
_LETTER_AFTER_CUE = re.compile(r"^\s*[:：\-—–]?\s*(?:is\s+)?([\(\[]?)\s*([A-Ea-e])(?![A-Za-z])")
_ENDS = re.compile(r"^\s*(?:$|[.,;:!?)\]。，；：！？])")
# Cyrillic capitals a Russian answer writes for the option letters ("Ответ: В")
_CYRILLIC_LETTERS = str.maketrans("АВСЕавсе", "ABCEabce")
# how models also say it, per language (casefolded): after the localized "The answer is" and "Answer:"
CHOICE_CUES = {
    "en": ["the correct answer is", "correct answer:", "answer is"],
    "de": ["die richtige antwort ist", "die antwort lautet", "antwort ist"],
    "fr": ["la bonne réponse est", "réponse est"],
    "es": ["la respuesta correcta es", "respuesta es"],
    "ru": ["правильный ответ", "ответ —", "ответ -", "ответ"],
    "zh": ["正确答案是", "答案为", "答案是", "选择", "选"],
}


def _choice_tails(text: str, lang: str) -> list[str]:
    tails = _after_cue(text, lang)
    folded = text.casefold()
    for cue in CHOICE_CUES.get(lang, []):
        i = folded.find(cue)
        if i >= 0:
            tails.append(text[i + len(cue):])
    return tails


def extract_choice(generation: str, labels: list[str], texts: list[str], lang: str) -> str | None:
    """The chosen option's label, from the NFKC-normalized generation (full-width "Ｂ" is "B"): a leading
    option letter; else what follows the localized "The answer is" / "Answer:" (or another way of saying
    it, ``CHOICE_CUES``): an option's text ("The answer is a lake", not the letter A), else an option
    letter ("The answer is B.", "答案是B", "Ответ: В" with the Cyrillic letter); else the longest option
    text the generation contains."""
    text = unicodedata.normalize("NFKC", generation)
    m = _LETTER_START.match(text.translate(_CYRILLIC_LETTERS) if lang == "ru" else text)
    if m:
        letter = next(g for g in m.groups() if g).upper()
        if letter in labels:
            return letter
    options = [(normalize_answer(t, lang), lab) for lab, t in zip(labels, texts)]
    for tail in _choice_tails(text, lang):
        head = normalize_answer(tail, lang)
        named = [(len(o), lab) for o, lab in options if o and (head == o or head.startswith(o + " ")
                                                               or (get_language(lang).unspaced and head.startswith(o)))]
        if named:
            return max(named)[1]
        letters = tail.translate(_CYRILLIC_LETTERS) if lang == "ru" else tail
        m = _LETTER_AFTER_CUE.match(letters)
        if not m or m.group(2).upper() not in labels:
            continue
        cyrillic = letters[m.start(2)] != tail[m.start(2)]
        bracketed = bool(m.group(1))
        # a lowercase or Cyrillic letter counts only bracketed or on its own ("в Париже" is a word)
        if (m.group(2).isupper() and not cyrillic) or bracketed or _ENDS.match(letters[m.end():]):
            return m.group(2).upper()
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
