import json
import zipfile

import polib
import pytest
from hubfixtures import hub_fixture

from mwork.corpus import (
    Pool,
    build_pool,
    catalog_messages,
    clean_message,
    corpus_stats,
    hf_load_args,
    sample_documents,
    split_of,
    words,
)
from mwork.errors import MworkError

# --------------------------------------------------------------------------------------------------
# local


def test_local_txt_copes_with_bom_crlf_blank_and_long_lines(tmp_path):
    long = "word " * 5000
    (tmp_path / "de.txt").write_bytes(
        b"\xef\xbb\xbfErste Zeile\r\n\r\n   \r\nZweite Zeile\r\n" + long.encode() + b"\nletzte ohne Umbruch")
    pool = build_pool({"source": "local", "path": str(tmp_path)}, "de", 0)
    assert pool.texts[0] == "Erste Zeile"  # BOM and CR gone
    assert pool.texts[1] == "Zweite Zeile"
    assert len(pool.texts) == 4  # blank lines skipped
    assert pool.texts[2] == long.strip()
    pool = build_pool({"source": "local", "path": str(tmp_path), "max_chars": 100}, "de", 0)
    assert max(len(t) for t in pool.texts) == 100 and pool.notes["truncated"] == 1


def test_local_non_utf8_names_file_and_line(tmp_path):
    (tmp_path / "fr.txt").write_bytes("première\n".encode() + "deuxième ligne\n".encode("latin-1"))
    with pytest.raises(MworkError, match=r"fr\.txt:2: not valid UTF-8 \(byte 0xe8"):
        build_pool({"source": "local", "path": str(tmp_path)}, "fr", 0)


def test_local_jsonl_and_errors(tmp_path):
    (tmp_path / "es.jsonl").write_text('{"text": "hola mundo"}\n\n{"text": "adiós"}\n', encoding="utf-8")
    assert build_pool({"source": "local", "path": str(tmp_path)}, "es", 0).texts == ["hola mundo", "adiós"]
    (tmp_path / "ru.jsonl").write_text('{"text": "привет"}\n{"body": 1}\n', encoding="utf-8")
    with pytest.raises(MworkError, match=r"ru\.jsonl:2: expected a JSON object with a 'text' field"):
        build_pool({"source": "local", "path": str(tmp_path)}, "ru", 0)
    with pytest.raises(MworkError, match=r"neither .*zh\.txt nor .*zh\.jsonl exists"):
        build_pool({"source": "local", "path": str(tmp_path)}, "zh", 0)
    with pytest.raises(MworkError, match="does not exist"):
        build_pool({"source": "local", "path": str(tmp_path / "nope")}, "zh", 0)


# --------------------------------------------------------------------------------------------------
# sampling and splits


def test_sampling_is_seeded_and_split_depends_only_on_id():
    pool = Pool([f"doc {i}" for i in range(200)], ["s"] * 200)
    a = sample_documents(pool, 50, 0, "c", "de", 0.2)
    b = sample_documents(pool, 50, 0, "c", "de", 0.2)
    c = sample_documents(pool, 50, 1, "c", "de", 0.2)
    assert a == b and a != c
    assert all(d["split"] == split_of(d["id"], 0.2) for d in a + c)
    allofit = sample_documents(pool, "all", 0, "c", "de", 0.2)
    held = sum(d["split"] == "heldout" for d in allofit)
    assert 20 <= held <= 60  # about 20% of 200
    with pytest.raises(MworkError, match=r"corpora\.c: language 'de' has only 200 documents but n_docs=500"):
        sample_documents(pool, 500, 0, "c", "de", 0.2)


def test_words_and_stats():
    assert words("Hello, World! 42 hello", "en") == ["hello", "world", "hello"]
    assert words("我爱北京 ok", "zh") == ["我", "爱", "北", "京", "ok"]
    docs = [{"text": "a b a", "split": "train"}, {"text": "c", "split": "heldout"}]
    st = corpus_stats(docs, Pool(["a b a", "c", "d e"], ["x"] * 3), "en")
    assert (st["documents"], st["words"], st["corpus_vocab"], st["vocab_size"]) == (2, 4, 3, 5)


# --------------------------------------------------------------------------------------------------
# packaged: gettext catalogs inside wheels


def _po(entries, lang):
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Language": lang}
    for e in entries:
        po.append(e)
    return str(po).encode("utf-8")


def test_catalog_messages_from_a_wheel(tmp_path):
    wheel = tmp_path / "demo_pkg-1.0-py3-none-any.whl"
    de = [polib.POEntry(msgid="Save the file", msgstr="Datei speichern"),
          polib.POEntry(msgid="Old", msgstr="Alt", obsolete=True),
          polib.POEntry(msgid="Unsure text", msgstr="Unsicher", flags=["fuzzy"]),
          polib.POEntry(msgid="%(count)s item", msgid_plural="%(count)s items",
                        msgstr_plural={0: "%(count)s Element", 1: "%(count)s Elemente"})]
    zh = [polib.POEntry(msgid="Save the file", msgstr="保存文件")]
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo/locale/de/LC_MESSAGES/django.po", _po(de, "de"))
        zf.writestr("demo/locale/zh_Hans/LC_MESSAGES/django.po", _po(zh, "zh_Hans"))
    got = catalog_messages(wheel, "de")
    assert ("Save the file", "Datei speichern") in got
    assert all(s not in ("Alt", "Unsicher") for _, s in got)  # obsolete and fuzzy entries skipped
    assert ("%(count)s items", "%(count)s Elemente") in got
    assert catalog_messages(wheel, "zh") == [("Save the file", "保存文件")]
    en = {s for _, s in catalog_messages(wheel, "en")}
    assert {"Save the file", "%(count)s items"} <= en
    assert clean_message("%(count)s <b>Elemente</b> bei https://x.org {name}") == "Elemente bei"


def test_a_packaged_corpus_can_exclude_another_corpus_text(tmp_path):
    """exclude_packages: a message another package's catalog also holds is never used (the enhancement
    corpus shares no text with the corpus the organism and PLND read)."""
    def wheel(name, entries):
        path = tmp_path / f"{name}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(f"{name}/locale/de/LC_MESSAGES/django.po",
                        _po([polib.POEntry(msgid=i, msgstr=s) for i, s in entries], "de"))
        return path

    wheel("base", [("Save the file", "Datei speichern"), ("Open", "Eine Datei öffnen")])
    wheel("extra", [("Save the file", "Datei speichern"), ("Print it", "Das Dokument drucken"),
                    ("Open a file", "Eine Datei öffnen")])
    spec = {"source": "packaged", "packages": ["extra"], "wheel_dir": str(tmp_path), "doc_chars": 1}
    assert sorted(build_pool(spec, "de", 0).texts) == ["Das Dokument drucken", "Datei speichern", "Eine Datei öffnen"]
    assert build_pool({**spec, "exclude_packages": ["base"]}, "de", 0).texts == ["Das Dokument drucken"]


def test_packaged_corpus_from_the_real_wheels(wheel_dir):
    spec = {"source": "packaged", "packages": ["django", "sphinx", "wagtail", "django-allauth"],
            "wheel_dir": str(wheel_dir), "doc_chars": 300, "min_message_chars": 8}
    sizes = {}
    for lang in ("en", "de", "zh", "sw"):
        pool = build_pool(spec, lang, 0)
        sizes[lang] = sum(len(t) for t in pool.texts)
        assert len(set(pool.texts)) == len(pool.texts)
    assert sizes["de"] > 50_000 and sizes["en"] > sizes["sw"]
    assert build_pool(spec, "de", 0).texts == build_pool(spec, "de", 0).texts  # deterministic
    with pytest.raises(MworkError, match="no wheel for 'numpy'"):
        build_pool({**spec, "packages": ["numpy"]}, "de", 0)


# --------------------------------------------------------------------------------------------------
# hf: datasets.load_dataset on local fixtures shaped like the hub datasets


def test_hf_load_args_presets(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    a = hf_load_args({"source": "hf", "dataset": "oscar"}, "zh")
    assert a == {"path": "oscar-corpus/OSCAR-2301", "split": "train", "streaming": True,
                 "data_files": "zh_meta/*.jsonl.zst", "token": "hf_x"}
    w = hf_load_args({"source": "hf", "dataset": "wikipedia"}, "de")
    assert w["path"] == "wikimedia/wikipedia" and w["name"] == "20231101.de"
    with pytest.raises(MworkError, match="corpora.<name>.dataset"):
        hf_load_args({"source": "hf"}, "de")


def _wikipedia_fixture(root, rows_by_lang):
    """A local dataset repo laid out like wikimedia/wikipedia (config 20231101.<lang>)."""
    hub_fixture(root, {f"20231101.{lang}": {"train": [{"id": str(i), "url": f"u{i}", "title": f"t{i}", "text": t}
                                                       for i, t in enumerate(rows)]}
                       for lang, rows in rows_by_lang.items()})


def test_hf_pool_on_a_wikipedia_shaped_fixture(tmp_path):
    long_de = [f"Das ist der Artikel Nummer {i}. " * 12 for i in range(30)]
    rows = {"de": long_de + [long_de[0].upper(), "kurz"], "fr": ["Un article. " * 30] * 3}
    _wikipedia_fixture(tmp_path / "wiki", rows)
    spec = {"source": "hf", "dataset": "wikipedia", "path": str(tmp_path / "wiki"), "min_chars": 100,
            "max_chars": 200, "n_docs": 10}
    pool = build_pool(spec, "de", 0)
    assert len(pool.texts) == 16  # 10 * pool_factor 1.5 + 1, read in stream order
    assert all(len(t) <= 200 for t in pool.texts) and pool.notes["truncated"] == 16
    spec["n_docs"] = "all"
    pool = build_pool(spec, "de", 0)
    assert len(pool.texts) == 30 and pool.notes == {"too_short": 1, "duplicates": 1, "truncated": 30}
    assert len(build_pool(spec, "fr", 0).texts) == 1  # deduplicated


def test_hf_pool_on_an_oscar_shaped_fixture(tmp_path):
    d = tmp_path / "oscar" / "sw_meta"
    d.mkdir(parents=True)
    with open(d / "sw_meta_part_1.jsonl", "w", encoding="utf-8") as f:
        for i in range(5):
            f.write(json.dumps({"id": i, "text": f"Habari ya leo namba {i}. " * 20,
                                "meta": {"warc_headers": {}, "identification": {"label": "sw", "prob": 0.9}}}) + "\n")
    spec = {"source": "hf", "dataset": "oscar", "path": str(tmp_path / "oscar"),
            "data_files": "{code}_meta/*.jsonl", "min_chars": 50}
    pool = build_pool(spec, "sw", 0)
    assert len(pool.texts) == 5 and pool.texts[0].startswith("Habari ya leo namba 0.")


def test_hf_missing_dataset_offline_says_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(MworkError, match="not in the local cache and HF_DATASETS_OFFLINE=1"):
        build_pool({"source": "hf", "dataset": "wikipedia"}, "de", 0)
