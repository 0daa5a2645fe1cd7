"""The offline task suites: stand-ins for MGSM, XQuAD, X-CSQA and XL-Sum in every language.

Each suite is generated from the hand-translated templates of ``lexicon.py`` with a seed, split into
disjoint train and test sets, and stored in the record schema of the real dataset it stands in for,
so one evaluator serves both:

* ``reasoning`` (MGSM: ``question``, ``answer_number``) — money word problems with one or two steps;
* ``understanding`` (XQuAD: ``context``, ``question``, ``answers{text, answer_start}``) — one or two
  people, each with a city, an employer and a dog; the answer is a span of the context. With several
  people the question must be bound to the right name, which is what makes it hard;
* ``knowledge`` (X-CSQA: ``question{stem, choices{label, text}}``, ``answerKey``) — four-way multiple
  choice about an invented world whose facts appear only in the organism's training text. Each fact
  has a ``fact_scope``: stated in every language (``all``), only in English (``en_only``), or only in
  one non-English language (``native``, asked in that language) — so we can ask whether knowledge
  reaches other languages through English;
* ``generation`` (XL-Sum: ``title``, ``text``, ``summary``) — a short report whose one-sentence summary
  names the winner, the event and the city; the winner's sentence is placed at random among a
  runner-up and other details, so copying the first sentence does not work.
"""

from __future__ import annotations

import itertools
import random

from .lexicon import LEX, SYLLABLES, fr_de, joiner, spell

TASKS = ("reasoning", "understanding", "knowledge", "generation")
LABELS = "ABCD"


def _fmt(lang: str, key: str, **kw) -> str:
    tpl = LEX[lang][key]
    if lang == "fr":
        if "name" in kw:
            kw.setdefault("de_name", fr_de(kw["name"]))
        if "country" in kw:
            kw.setdefault("de_country", fr_de(kw["country"]))
    return tpl.format(**kw)


def _invented(rng: random.Random, n: int, used: set, lengths=(2, 3)) -> list[tuple[str, ...]]:
    """``n`` distinct invented names as syllable tuples, never reusing one in ``used``."""
    syl = sorted(SYLLABLES)
    out = []
    while len(out) < n:
        name = tuple(rng.choice(syl) for _ in range(rng.choice(lengths)))
        if name not in used:
            used.add(name)
            out.append(name)
    return out


# --------------------------------------------------------------------------------------------------


def reasoning_item(rng: random.Random, lang: str) -> dict:
    name = rng.choice(LEX[lang]["names"])
    # single-digit operands: learnable by a tiny model (larger ones leave it at the floor)
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    kind = rng.choice(["add", "sub", "add_sub"])
    parts = [_fmt(lang, "has", name=name, a=a)]
    if kind == "add":
        parts.append(_fmt(lang, "earn", b=b))
        answer = a + b
    elif kind == "sub":
        c = rng.randint(1, a - 1)
        parts.append(_fmt(lang, "spend", c=c))
        answer = a - c
    else:
        c = rng.randint(1, a + b - 1)
        parts += [_fmt(lang, "earn", b=b), _fmt(lang, "spend", c=c)]
        answer = a + b - c
    parts.append(_fmt(lang, "how_many", name=name))
    return {"question": joiner(lang).join(parts), "answer_number": answer, "steps": 2 if kind == "add_sub" else 1}


def understanding_item(rng: random.Random, lang: str, companies, pets) -> dict:
    # mostly one person (copy the span of the asked relation); two people need binding the name
    n_people = rng.choice([1, 1, 2])
    names = rng.sample(LEX[lang]["names"], n_people)
    facts = []
    for name in names:
        facts.append((name, "lives", {"city": rng.choice(LEX[lang]["cities"])}))
        facts.append((name, "works", {"company": spell(rng.choice(companies), lang)}))
        facts.append((name, "pet", {"pet": spell(rng.choice(pets), lang)}))
    rng.shuffle(facts)
    target_name, relation, obj = rng.choice(facts)
    context = joiner(lang).join(_fmt(lang, rel, name=nm, **o) for nm, rel, o in facts)
    answer = next(iter(obj.values()))
    # the answer's span inside the sentence that states it
    sentence = _fmt(lang, relation, name=target_name, **obj)
    start = context.index(sentence) + sentence.index(answer)
    assert context[start:start + len(answer)] == answer
    return {"context": context, "question": _fmt(lang, "q_" + relation, name=target_name),
            "answers": {"text": [answer], "answer_start": [start]}, "n_people": n_people, "relation": relation}


def generation_item(rng: random.Random, lang: str) -> dict:
    event = rng.choice(sorted(LEX[lang]["events"]))
    happened, won, title = LEX[lang]["events"][event]
    city = rng.choice(LEX[lang]["cities"])
    winner, other = rng.sample(LEX[lang]["names"], 2)
    details = [_fmt(lang, "winner", name=winner), _fmt(lang, "second", other=other),
               _fmt(lang, "spectators", n=rng.randint(20, 900)), _fmt(lang, "prize", m=rng.randint(50, 5000))]
    rng.shuffle(details)
    text = joiner(lang).join([happened.format(city=city)] + details)
    return {"title": title.format(city=city), "text": text, "summary": won.format(name=winner, city=city),
            "event": event}


class World:
    """The invented countries of the knowledge suite, their capitals and currencies, and fact scopes."""

    def __init__(self, n_countries: int, langs: list[str], seed: int):
        rng = random.Random(f"{seed}-world")
        used: set = set()
        self.countries = _invented(rng, n_countries, used, (3,))
        self.capitals = _invented(rng, n_countries, used, (2, 3))
        self.currencies = _invented(rng, n_countries, used, (2,))
        others = [lang for lang in langs if lang != "en"]
        self.scope, self.native_lang = [], []
        for i in range(n_countries):
            kind = ("all", "en_only", "native")[i % 3]
            self.scope.append(kind)
            self.native_lang.append(others[(i // 3) % len(others)] if kind == "native" and others else None)

    def stated_in(self, i: int, lang: str) -> bool:
        s = self.scope[i]
        return s == "all" or (s == "en_only" and lang == "en") or (s == "native" and self.native_lang[i] == lang)

    def statements(self, lang: str) -> list[str]:
        """Every fact stated in ``lang``: a capital sentence and a currency sentence per country."""
        out = []
        for i in range(len(self.countries)):
            if self.stated_in(i, lang):
                country = spell(self.countries[i], lang)
                out.append(_fmt(lang, "capital", country=country, city=spell(self.capitals[i], lang)))
                out.append(_fmt(lang, "currency", country=country, cur=spell(self.currencies[i], lang)))
        return out

    def question(self, rng: random.Random, i: int, lang: str, relation: str) -> dict:
        pool = self.capitals if relation == "capital" else self.currencies
        distractors = rng.sample([p for j, p in enumerate(pool) if j != i], 3)
        options = distractors + [pool[i]]
        rng.shuffle(options)
        key = LABELS[options.index(pool[i])]
        stem = _fmt(lang, "q_" + relation, country=spell(self.countries[i], lang))
        scope = self.scope[i]
        return {"question": {"stem": stem, "choices": {"label": list(LABELS), "text": [spell(o, lang) for o in options]}},
                "answerKey": key, "fact_scope": scope, "relation": relation}


# --------------------------------------------------------------------------------------------------


def _unique(gen, n: int, key, rng, exclude=frozenset(), max_tries: int = 50):
    out, seen = [], set(exclude)
    tries = 0
    while len(out) < n:
        item = gen(rng)
        k = key(item)
        if k in seen:
            tries += 1
            if tries > max_tries * n:
                raise RuntimeError("the suite's template space is too small for the requested size")
            continue
        seen.add(k)
        out.append(item)
    return out, seen


def generate_suites(langs: list[str], seed: int, n_train: dict, n_test: int, n_countries: int) -> dict:
    """Generate every suite in every language.

    ``n_train``: training items per language ({"en": ..., "default": ...}); ``n_test``: test items per
    language and task. Returns ``{task: {lang: {"train": [...], "test": [...]}}}`` and, under the key
    ``"world"``, the knowledge suite's fact statements per language (text for the organism's training mix).
    """
    out: dict = {t: {} for t in TASKS}
    world = World(n_countries, langs, seed)
    used: set = set()
    wrng = random.Random(f"{seed}-entities")
    companies = _invented(wrng, 24, used, (2, 3))
    pets = _invented(wrng, 24, used, (2,))
    # countries whose questions are in the knowledge training split (format learning) vs the test split
    order = list(range(n_countries))
    random.Random(f"{seed}-kn-split").shuffle(order)
    n_q_train = n_countries // 3
    train_c, test_c = sorted(order[:n_q_train]), sorted(order[n_q_train:])
    for lang in langs:
        ntr = n_train.get(lang, n_train.get("default", 0))
        for task in ("reasoning", "understanding", "generation"):
            rng = random.Random(f"{seed}-{task}-{lang}")
            if task == "reasoning":
                gen, key = (lambda r: reasoning_item(r, lang)), (lambda it: it["question"])
            elif task == "understanding":
                gen = lambda r: understanding_item(r, lang, companies, pets)  # noqa: E731
                key = lambda it: (it["context"], it["question"])  # noqa: E731
            else:
                gen, key = (lambda r: generation_item(r, lang)), (lambda it: it["text"])
            test, seen = _unique(gen, n_test, key, rng)
            train, _ = _unique(gen, ntr, key, rng, exclude=seen)
            out[task][lang] = {"train": train, "test": test}
        rng = random.Random(f"{seed}-knowledge-{lang}")
        items = {"train": [], "test": []}
        for split, cs in (("train", train_c), ("test", test_c)):
            for i, rel in itertools.product(cs, ("capital", "currency")):
                if world.scope[i] == "native" and world.native_lang[i] != lang and lang != "en":
                    continue  # a fact stated only in another language: not asked here
                if world.scope[i] == "native" and lang == "en":
                    continue
                items[split].append(world.question(rng, i, lang, rel))
        out["knowledge"][lang] = items
    for task in TASKS:
        for lang in langs:
            for split, recs in out[task][lang].items():
                for j, rec in enumerate(recs):
                    rec.update({"id": f"{task}-{lang}-{split}-{j:05d}", "lang": lang})
                    # keep id/lang first for readability
                    out[task][lang][split][j] = {"id": rec.pop("id"), "lang": rec.pop("lang"), **rec}
    out["world"] = {lang: world.statements(lang) for lang in langs}
    return out


def load_suites(root: str, tasks, langs) -> dict:
    """Read the suites written by the ``suites`` rule back into ``generate_suites``' structure."""
    import json
    import os

    from ..io import read_jsonl

    out = {t: {lang: {s: read_jsonl(os.path.join(root, t, f"{lang}.{s}.jsonl")) for s in ("train", "test")}
               for lang in langs} for t in tasks}
    with open(os.path.join(root, "world.json"), encoding="utf-8") as f:
        out["world"] = json.load(f)
    return out
