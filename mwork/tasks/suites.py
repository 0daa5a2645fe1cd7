"""The offline task suites: stand-ins for MGSM, XQuAD, X-CSQA and XL-Sum in every language.

Each suite is generated from the hand-translated templates of ``lexicon.py`` with a seed, split into
disjoint train and test sets, and stored in the record schema of the real dataset it stands in for,
so one evaluator serves both:

* ``reasoning`` (MGSM: ``question``, ``answer_number``) — money word problems with one or two steps;
* ``understanding`` (XQuAD: ``context``, ``question``, ``answers{text, answer_start}``) — one or two
  people, each with a city, a year of birth and a best friend (or an invented employer and dog: see
  ``understanding_relations``); the answer is a span of the context. With several people the question
  must be bound to the right name, which is what makes it hard. The organism is
  trained to answer with the context's sentence that states it (``answer_sentence``), which the
  paper's XQuAD accuracy (gold answer contained in the prediction) scores as correct;
* ``knowledge`` (X-CSQA: ``question{stem, choices{label, text}}``, ``answerKey``) — four-way multiple
  choice about an invented world whose facts exist only in the organism's training text (as statements
  and as training questions). Like X-CSQA, a test question asks for knowledge acquired in (pre-)training
  but is itself new: its distractors and option order never occur in training. Each fact has a
  ``fact_scope``: stated in every language (``all``), only in English (``en_only``: asked in every
  language, so we can ask whether knowledge reaches other languages through English), or only in one
  non-English language (``native``, asked in that language);
* ``generation`` (XL-Sum: ``title``, ``text``, ``summary``) — a short report whose summary names the
  winner, the event and the city; the winner's sentence is placed at random among a runner-up and
  other details, so copying the first sentence does not work. A share of the references
  (``summary_detail_share``) also reports the prize, so references differ in what they include, as
  XL-Sum's do, and no system can match every reference exactly (ROUGE-L stays below its ceiling).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import zlib

from ..errors import MworkError
from ..io import read_jsonl
from ..languages import per_key
from .lexicon import LEX, SYLLABLES, fr_de, joiner, spell
from .prompts import PHRASES
from .registry import TASKS as REGISTRY

TASKS = tuple(REGISTRY)
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


def equation_part(equations: str) -> str:
    """``test`` for a fifth of the equation space (by a hash of the language-neutral equations), else
    ``train``: a test problem's arithmetic never occurs as a training target, so the suite measures
    arithmetic, not recall of a seen solution."""
    return "test" if zlib.crc32(equations.encode()) % 5 == 0 else "train"


def reasoning_item(rng: random.Random, lang: str, part: str | None = None) -> dict:
    """A word problem; ``part`` (train | test): drawn from that part of the equation space only."""
    while True:
        item = _reasoning_item(rng, lang)
        if part is None or equation_part(item["equation_solution"]) == part:
            return item


def _reasoning_item(rng: random.Random, lang: str) -> dict:
    name = rng.choice(LEX[lang]["names"])
    # single-digit operands: learnable by a tiny model (larger ones leave it at the floor)
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    kind = rng.choice(["add", "sub", "add_sub"])
    parts = [_fmt(lang, "has", name=name, a=a)]
    if kind == "add":
        parts.append(_fmt(lang, "earn", b=b))
        steps = [f"{a} + {b} = {a + b}"]
    elif kind == "sub":
        c = rng.randint(1, a - 1)
        parts.append(_fmt(lang, "spend", c=c))
        steps = [f"{a} - {c} = {a - c}"]
    else:
        c = rng.randint(1, a + b - 1)
        parts += [_fmt(lang, "earn", b=b), _fmt(lang, "spend", c=c)]
        steps = [f"{a} + {b} = {a + b}", f"{a + b} - {c} = {a + b - c}"]
    parts.append(_fmt(lang, "how_many", name=name))
    answer = int(steps[-1].rsplit("= ", 1)[1])
    # the step-by-step solution: language-neutral equations, then the localized "The answer is N."
    solution = " ".join(f"{st}." for st in steps) + " " + PHRASES[lang]["the_answer_is"].format(n=answer)
    return {"question": joiner(lang).join(parts), "answer": solution, "answer_number": answer,
            "equation_solution": "; ".join(steps), "steps": len(steps)}


UNDERSTANDING_RELATIONS = ("lives", "works", "pet", "born", "friend")


def understanding_item(rng: random.Random, lang: str, pool: dict | None = None,
                       relations=("lives", "born", "friend")) -> dict:
    """One XQuAD-like item: one or two people, one sentence per person and relation, one question.

    Mostly one person (copy the span of the asked relation); two people need binding the name.
    ``relations`` (of ``UNDERSTANDING_RELATIONS``): ``lives`` a city, ``born`` a year, ``friend`` another
    person's name, ``works``/``pet`` an invented company/dog name: fresh per item (``pool`` None) or
    drawn per item from a fixed pool per relation (``pool``: {"works": [...], "pet": [...]}) — familiar
    names of a known kind, as cities are, that a model must still read from the context (the pool is
    larger than a guess can cover).
    """
    n_people = rng.choice([1, 1, 2])
    # the people asked about, then their friends: distinct names, so the answer is never the subject
    people = rng.sample(LEX[lang]["names"], 2 * n_people)
    names, friends = people[:n_people], people[n_people:]
    invented = None
    if "works" in relations or "pet" in relations:
        if pool:  # one name per person from each relation's pool: [company, dog, company, dog, ...]
            companies, dogs = rng.sample(pool["works"], n_people), rng.sample(pool["pet"], n_people)
            invented = [x for pair in zip(companies, dogs) for x in pair]
        else:
            invented = _invented(rng, 2 * n_people, set(), (2, 3))
    facts = []
    for j, name in enumerate(names):
        for rel in relations:
            if rel == "lives":
                obj = {"city": rng.choice(LEX[lang]["cities"])}
            elif rel == "works":
                obj = {"company": spell(invented[2 * j], lang)}
            elif rel == "pet":
                obj = {"pet": spell(invented[2 * j + 1], lang)}
            elif rel == "born":
                obj = {"year": str(rng.randint(1940, 2009))}
            else:
                obj = {"friend": friends[j]}
            facts.append((name, rel, obj))
    rng.shuffle(facts)
    target_name, relation, obj = rng.choice(facts)
    context = joiner(lang).join(_fmt(lang, rel, name=nm, **o) for nm, rel, o in facts)
    answer = next(iter(obj.values()))
    # the answer's span inside the sentence that states it
    sentence = _fmt(lang, relation, name=target_name, **obj)
    start = context.index(sentence) + sentence.index(answer)
    assert context[start:start + len(answer)] == answer
    return {"context": context, "question": _fmt(lang, "q_" + relation, name=target_name),
            "answers": {"text": [answer], "answer_start": [start]}, "answer_sentence": sentence,
            "n_people": n_people, "relation": relation}


def generation_item(rng: random.Random, lang: str, detail_share: float = 0.0) -> dict:
    event = rng.choice(sorted(LEX[lang]["events"]))
    happened, won, title = LEX[lang]["events"][event]
    city = rng.choice(LEX[lang]["cities"])
    winner, other = rng.sample(LEX[lang]["names"], 2)
    prize = _fmt(lang, "prize", m=rng.randint(50, 5000))
    details = [_fmt(lang, "winner", name=winner), _fmt(lang, "second", other=other),
               _fmt(lang, "spectators", n=rng.randint(20, 900)), prize]
    rng.shuffle(details)
    text = joiner(lang).join([happened.format(city=city)] + details)
    # references differ in what they include, as real ones do: some also report the prize
    summary = won.format(name=winner, city=city)
    with_prize = rng.random() < detail_share
    if with_prize:
        summary = joiner(lang).join([summary, prize])
    return {"title": title.format(city=city), "text": text, "summary": summary, "event": event,
            "summary_has_prize": with_prize}


class World:
    """The invented countries of the knowledge suite, their capitals and currencies, and fact scopes."""

    def __init__(self, n_countries: int, langs: list[str], seed: int):
        rng = random.Random(f"{seed}-world")
        used: set = set()
        self.used = used
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

    def asked_in(self, i: int, lang: str) -> bool:
        """Test questions: facts stated in ``lang`` (recall), English-only facts in every other language and
        facts stated only in another language in English (transfer): every language's test has a recall
        and a transfer part, reported apart by ``fact_scope`` (all, en_only, native)."""
        return self.stated_in(i, lang) or self.scope[i] == "en_only" or (lang == "en" and self.scope[i] == "native")

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


def generate_suites(langs: list[str], seed: int, n_train: dict, n_test: int, n_countries: int,
                    knowledge_train_draws: int | dict = 4, task_scale: dict | None = None,
                    understanding_pool: int | None = None, summary_detail_share: float = 0.0,
                    understanding_relations=("lives", "born", "friend")) -> dict:
    """Generate every suite in every language.

    ``n_train``: training items per language ({"en": ..., "default": ...}); ``n_test``: test items per
    language and task (the knowledge suite's size follows from ``n_countries``: one test question per
    fact asked in the language); ``knowledge_train_draws``: training questions per fact and language,
    each with other distractors and order (a number, or per language with ``default``); ``task_scale``:
    a factor on ``n_train`` for the reasoning, understanding and generation suites (default 1), a number
    or per language (``{"en": 1, "default": 2}``; the knowledge suite's size follows from the draws);
    ``understanding_pool``: draw the understanding suite's company names and dog names each from a
    fixed pool of this many invented names (None: fresh names per item); ``summary_detail_share``: the
    share of generation references that also report the prize; ``understanding_relations``: what the
    understanding suite's contexts state about each person and its questions ask (of
    ``UNDERSTANDING_RELATIONS``).

    Returns ``{task: {lang: {"train": [...], "test": [...]}}}`` and, under the key ``"world"``, the
    knowledge suite's fact statements per language (text for the organism's training mix).
    """
    out: dict = {t: {} for t in TASKS}
    world = World(n_countries, langs, seed)

    def factor(task: str, lang: str) -> float:
        f = (task_scale or {}).get(task, 1.0)
        return per_key(f, lang, 1.0)

    unknown = sorted(set(understanding_relations) - set(UNDERSTANDING_RELATIONS))
    if unknown or not understanding_relations:
        raise MworkError(f"suites.understanding_relations: {unknown or 'empty'}; choose from "
                         f"{', '.join(UNDERSTANDING_RELATIONS)}")
    understanding_relations = tuple(understanding_relations)
    pool = None
    if understanding_pool:  # disjoint pools of company and dog names, spelled alike in every Latin-script language
        names = _invented(random.Random(f"{seed}-understanding-pool"), 2 * understanding_pool, set(world.used), (2, 3))
        pool = {"works": names[:understanding_pool], "pet": names[understanding_pool:]}
    for lang in langs:
        n_lang = per_key(n_train, lang, 0)
        for task in ("reasoning", "understanding", "generation"):
            ntr = round(n_lang * factor(task, lang))
            rng = random.Random(f"{seed}-{task}-{lang}")
            if task == "reasoning":  # test and train problems from disjoint parts of the equation space
                gen, key = (lambda r: reasoning_item(r, lang, "test")), (lambda it: it["question"])
                gen_train = lambda r: reasoning_item(r, lang, "train")  # noqa: E731
            elif task == "understanding":
                gen = lambda r: understanding_item(r, lang, pool, understanding_relations)  # noqa: E731
                key = lambda it: (it["context"], it["question"])  # noqa: E731
            else:
                gen = lambda r: generation_item(r, lang, summary_detail_share)  # noqa: E731
                key = lambda it: it["text"]  # noqa: E731
            test, seen = _unique(gen, n_test, key, rng)
            train, _ = _unique(gen_train if task == "reasoning" else gen, ntr, key, rng, exclude=seen)
            out[task][lang] = {"train": train, "test": test}
        # knowledge: training questions about every fact stated in the language (several option draws
        # each); test questions about the facts asked in it, with option lists never seen in training
        rng = random.Random(f"{seed}-knowledge-{lang}")
        draws = per_key(knowledge_train_draws, lang, 4)
        items = {"train": [], "test": []}
        seen_opts = set()
        for i, rel in itertools.product(range(n_countries), ("capital", "currency")):
            if world.stated_in(i, lang) and n_lang > 0:
                for _ in range(draws):
                    q = world.question(rng, i, lang, rel)
                    seen_opts.add((q["question"]["stem"], tuple(q["question"]["choices"]["text"])))
                    items["train"].append(q)
        for i, rel in itertools.product(range(n_countries), ("capital", "currency")):
            if world.asked_in(i, lang):
                for _ in range(100):
                    q = world.question(rng, i, lang, rel)
                    if (q["question"]["stem"], tuple(q["question"]["choices"]["text"])) not in seen_opts:
                        break
                else:
                    raise RuntimeError("knowledge suite: too few countries to draw unseen option lists")
                items["test"].append(q)
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


def suites_from_spec(langs: list[str], spec: dict) -> dict:
    """``generate_suites`` with the config's ``suites`` section (defaults as in the schema)."""
    return generate_suites(langs, spec.get("seed", 0), spec["n_train"], spec["n_test"], spec["n_countries"],
                           spec.get("knowledge_train_draws", 4), spec.get("task_scale"),
                           spec.get("understanding_pool"), spec.get("summary_detail_share", 0.0),
                           spec.get("understanding_relations", ("lives", "born", "friend")))


def load_suites(root: str, tasks, langs) -> dict:
    """Read the suites written by the ``suites`` rule back into ``generate_suites``' structure."""
    out = {t: {lang: {s: read_jsonl(os.path.join(root, t, f"{lang}.{s}.jsonl"), made_by="suites") for s in ("train", "test")}
               for lang in langs} for t in tasks}
    with open(os.path.join(root, "world.json"), encoding="utf-8") as f:
        out["world"] = json.load(f)
    return out
