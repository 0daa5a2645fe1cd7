"""Nothing silently wrong (issue 17): what each job reads is checked, and outputs are readable by others."""
import os
import stat

import pytest

from mwork.batching import Documents, encode_prefixes
from mwork.corpus import build_pool, read_corpus
from mwork.errors import MworkError
from mwork.io import atomic_dir, read_json, write_json, write_jsonl
from mwork.organism import train_tokenizer
from mwork.tables import read_scores

TEXTS = ["Der schnelle braune Fuchs springt über den faulen Hund.", "数字 12345 和 文字", "a b c d e f g h i j k"]


@pytest.fixture(scope="module")
def bpe():
    return train_tokenizer(TEXTS * 20, vocab_size=300)


def test_long_documents_are_cut_by_characters_before_tokenizing_with_the_same_tokens(bpe):
    long_line = "Wort " * 200_000 + "Ende"  # a 1 MB single line
    urls = "https://example.org/" + "x" * 5000  # few tokens per character: the cut doubles
    texts = TEXTS + [long_line, urls, "", "kurz"]
    for max_length in (4, 16, 64):
        got = encode_prefixes(bpe, texts, max_length)
        want = [(ids[:max_length], len(ids) > max_length) for ids in bpe(texts, add_special_tokens=True)["input_ids"]]
        assert got == want
    calls = []
    real = bpe.__call__

    class Spy:
        def __call__(self, batch, **kw):
            calls.append(max(len(t) for t in batch))
            return real(batch, **kw)

    encode_prefixes(Spy(), [long_line], 32)
    assert max(calls) <= 32 * 8 * 2  # never the whole megabyte


def test_documents_leave_out_blank_texts_and_batch_shortest_first(bpe):
    """The one way PLND, set stability and Figure 3 turn texts into batches."""
    texts = ["a b c d e f g h i j k", "   ", TEXTS[0], "", "kurz", TEXTS[1]]
    docs = Documents(bpe, texts, max_length=6)
    assert docs.index == [0, 2, 4, 5] and docs.empty == 2 and len(docs) == 4
    assert docs.truncated == sum(len(bpe(texts[i])["input_ids"]) > 6 for i in docs.index)
    seen, lengths = [], []
    for idx, ids, mask in docs.batches(3):
        seen += idx
        for j, i in enumerate(idx):  # left-padded: each document's tokens end the row
            n = len(docs.ids[i])
            assert ids[j, ids.shape[1] - n:].tolist() == docs.ids[i] and int(mask[j].sum()) == n
            lengths.append(n)
    assert sorted(seen) == list(range(4)) and lengths == sorted(lengths)


def test_local_corpus_refuses_empty_files_non_string_text_and_two_files(tmp_path):
    spec = {"source": "local", "path": str(tmp_path)}
    (tmp_path / "de.txt").write_text("\n  \n", encoding="utf-8")
    with pytest.raises(MworkError, match=r"de\.txt: no documents"):
        build_pool(spec, "de", 0)
    for i, bad in enumerate(['{"text": null}', '{"text": 12345}', '{"text": ["a", "b"]}']):
        lang = ["fr", "es", "ru"][i]
        (tmp_path / f"{lang}.jsonl").write_text('{"text": "ok"}\n' + bad + "\n", encoding="utf-8")
        with pytest.raises(MworkError, match=rf"{lang}\.jsonl:2: 'text' is \w+ .*, not a string"):
            build_pool(spec, lang, 0)
    (tmp_path / "zh.txt").write_text("一\n", encoding="utf-8")
    (tmp_path / "zh.jsonl").write_text('{"text": "二"}\n', encoding="utf-8")
    with pytest.raises(MworkError, match="both .*zh.txt and .*zh.jsonl exist"):
        build_pool(spec, "zh", 0)


def _corpus(tmp_path, n=5):
    path = tmp_path / "de.jsonl"
    write_jsonl(path, [{"id": str(i), "text": f"Text {i}", "split": "train"} for i in range(n)])
    from mwork.io import file_sha256

    write_json(tmp_path / "de.stats.json", {"documents": n, "sha256": file_sha256(path)})
    return path


def test_a_cut_or_changed_corpus_is_refused_naming_the_rule(tmp_path):
    path = _corpus(tmp_path)
    assert len(read_corpus(path)) == 5
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:2]), encoding="utf-8")
    with pytest.raises(MworkError, match=r"de\.jsonl: 2 documents, but de\.stats\.json records 5 .*rerun rule corpus"):
        read_corpus(path)
    path.write_text("".join(lines).replace("Text 3", "Text 9"), encoding="utf-8")
    with pytest.raises(MworkError, match=r"de\.jsonl: SHA-256 differs"):
        read_corpus(path)
    path.write_text("".join(lines[:4]) + '{"id": "4", "te', encoding="utf-8")
    with pytest.raises(MworkError, match=r"de\.jsonl, line 5: not JSON .*rule corpus writes it"):
        read_corpus(path)
    path = _corpus(tmp_path)
    (tmp_path / "de.stats.json").unlink()
    with pytest.raises(MworkError, match="statistics file .* is missing"):
        read_corpus(path)


@pytest.mark.parametrize("score, message", [(None, "score is None, not a number"), ("87.5", "score is '87.5'"),
                                            (float("nan"), "score is nan"), (True, "score is True")])
def test_tables_refuse_scores_that_are_not_numbers(tmp_path, score, message):
    good = {"model": "m", "task": "reasoning", "language": "de", "setting": "original", "score": 50.0}
    write_json(tmp_path / "a.json", good)
    write_json(tmp_path / "b.json", {**good, "language": "fr", "score": score})
    assert read_scores([tmp_path / "a.json"])[0]["score"] == 50.0
    with pytest.raises(MworkError, match=rf"b\.json: {message}.*rule evaluate writes it"):
        read_scores([tmp_path / "a.json", tmp_path / "b.json"])
    (tmp_path / "c.json").write_text('{"model": "m", "score": 1', encoding="utf-8")
    with pytest.raises(MworkError, match=r"c\.json: not JSON"):
        read_scores([tmp_path / "c.json"])
    write_json(tmp_path / "d.json", {"model": "m", "score": 1.0})
    with pytest.raises(MworkError, match=r"d\.json: no task, language"):
        read_scores([tmp_path / "d.json"])


def test_outputs_follow_the_umask_not_the_temporary_files_private_mode(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "r.json", {"a": 1})
        with atomic_dir(tmp_path / "model") as d:
            (d / "w.bin").write_bytes(b"x")
        os.umask(0o077)
        write_json(tmp_path / "private.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600
    assert read_json(tmp_path / "r.json") == {"a": 1}


def test_cli_names_the_file_and_line_instead_of_a_traceback(root, tmp_path, capsys):
    import torch
    from safetensors.torch import save_file

    from mwork.__main__ import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 0\nlanguages: [en, de\nfoo: 1\n", encoding="utf-8")
    assert main(["config", "check", str(bad)]) == 2
    assert f"{bad}, line 3, column 4: not valid YAML" in capsys.readouterr().err
    assert main(["config", "check", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml: no such config file" in capsys.readouterr().err
    assert main(["config", "check", str(root / "config.yaml"), str(root / "configs" / "real.yaml")]) == 0
    assert "models qwen, gemma" in capsys.readouterr().out  # layered as Snakemake layers --configfile
    garbage = tmp_path / "x.safetensors"
    garbage.write_bytes(b"not a safetensors file at all")
    assert main(["neurons", "show", str(garbage)]) == 2
    assert "x.safetensors: not a readable safetensors file" in capsys.readouterr().err
    save_file({"embed.weight": torch.zeros(3)}, str(tmp_path / "w.safetensors"))
    assert main(["neurons", "show", str(tmp_path / "w.safetensors")]) == 2
    assert "w.safetensors: neuron key 'embed.weight' is not of the form layers" in capsys.readouterr().err


def test_an_unwritable_output_folder_is_reported_before_the_computation(tmp_path, capsys):
    from types import SimpleNamespace

    from mwork.workflow import rule_script

    (tmp_path / "results").write_text("a file where the results folder should be", encoding="utf-8")
    smk = SimpleNamespace(log=[], rule="plnd", threads=1, output=[str(tmp_path / "results" / "de.safetensors")])
    ran = []
    with pytest.raises(SystemExit):
        with rule_script(smk):
            ran.append("the computation")
    assert not ran and f"error in rule plnd: {tmp_path / 'results'}: cannot write" in capsys.readouterr().err
