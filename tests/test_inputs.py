"""Nothing silently wrong: what each job reads is checked, and outputs are readable by others."""
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


def _scored(values, **summary):
    items = {"id": [f"q{i}" for i in range(len(values))], "score": list(values)}
    return {"model": "m", "task": "reasoning", "language": "de", "setting": "original", "n_items": len(values),
            "score": 50.0, **summary, "items": items}


@pytest.mark.parametrize("scores, message", [
    (_scored([0.0, 0.0, 0.0, 0.0], score=77), r"score is 77, but its 4 items average 0 \(edited by hand\?\)"),
    (_scored([100.0, float("nan")]), r"item 'q1' has score nan, not a finite number"),
    (_scored([100.0, None]), r"item 'q1' has score None, not a finite number"),
    (_scored(["abc", 0.0]), r"item 'q0' has score 'abc', not a finite number"),
    (_scored([100.0, True]), r"item 'q1' has score True, not a finite number"),
    (_scored([100.0, 0.0], n_items=3), r"n_items is 3, but it lists 2 items"),
    ({**_scored([100.0, 0.0]), "items": {"id": ["q0", "q1"], "score": [100.0]}},
     r"items\.score is not a list of one value per item id"),
    ({**_scored([100.0, 0.0, 100.0]), "items": {"id": ["q0", "q1", "q2"], "score": [100.0, 0.0, 100.0],
                                                "em": [100.0, 0.0, 0.0]}, "score": 200 / 3, "em": 66.7},
     r"em is 66\.7, but its 3 items average 33\.3333 \(edited by hand\?\)"),
])
def test_tables_cross_check_a_scores_files_summary_against_its_items(tmp_path, scores, message):
    """A hand-edited summary (77 over per-item zeros showed "77.0 ±0.0"), a NaN or null item ("±nan", a Δ of
    "—") or a text item (a ValueError) is an error naming the file and the item."""
    write_json(tmp_path / "good.json", _scored([100.0, 0.0, 0.0, 100.0, 100.0, 0.0, 100.0, 0.0]))
    assert read_scores([tmp_path / "good.json"])[0]["score"] == 50.0
    write_json(tmp_path / "bad.json", scores)
    with pytest.raises(MworkError, match=rf"bad\.json: {message}; delete the scores file and rerun rule evaluate"):
        read_scores([tmp_path / "good.json", tmp_path / "bad.json"])
    # Figure 4 and Table 6 read rule enhance_eval's files, which hold one such record per task and language
    from mwork.enhance_tables import read_tunings

    write_json(tmp_path / "tuned.json", {"base": "m", "tuning": "original", "scores": [scores]})
    with pytest.raises(MworkError, match=rf"tuned\.json \(reasoning/de\): {message}; delete the scores file and "
                                         rf"rerun rule enhance_eval"):
        read_tunings([tmp_path / "tuned.json"])


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


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_every_file_of_a_saved_model_folder_follows_the_umask(tmp_path, umask, file_mode, dir_mode):
    """save_pretrained's safetensors file is written 0600: an atomic folder gives every file
    and subfolder under it the mode a plainly created one would have, as the organism and packaged models
    are saved (results/organism/model, results/models/<name>)."""
    from tinymodels import make_model, tokenizer

    old = os.umask(umask)
    try:
        with atomic_dir(tmp_path / "model") as d:
            make_model("llama").save_pretrained(d)
            tokenizer().save_pretrained(d)
            (d / "sub").mkdir(mode=0o700)
            (d / "sub" / "x.json").write_text("{}", encoding="utf-8")
            os.chmod(d / "sub" / "x.json", 0o600)
    finally:
        os.umask(old)
    model = tmp_path / "model"
    assert (model / "model.safetensors").exists()
    modes = {str(p.relative_to(model)): stat.S_IMODE(p.stat().st_mode) for p in [model, *model.rglob("*")]}
    want = {name: dir_mode if (model / name).is_dir() else file_mode for name in modes}
    assert modes == want


def test_corpus_show_says_what_a_file_is_when_it_is_not_a_corpus_file(tmp_path, capsys):
    """Every wrong file gives one sentence: no traceback, and no advice to delete a good
    file: the statistics beside a corpus, a predictions file, a binary, a missing file, JSON that is no object."""
    import torch
    from safetensors.torch import save_file

    from mwork.__main__ import main

    docs = [{"id": f"d{i}", "text": f"Text {i}", "source": "x", "split": "train"} for i in range(3)]
    write_jsonl(tmp_path / "de.jsonl", docs)
    write_json(tmp_path / "de.stats.json", {"corpus": "catalogs", "language": "de", "documents": 3})
    write_jsonl(tmp_path / "de.predictions.jsonl", [{"id": 0, "prediction": "42", "correct": True}])
    save_file({"w": torch.zeros(4)}, str(tmp_path / "model.safetensors"))
    (tmp_path / "list.jsonl").write_text('[1, 2]\n', encoding="utf-8")
    (tmp_path / "cut.jsonl").write_text((tmp_path / "de.jsonl").read_text(encoding="utf-8")[:-9], encoding="utf-8")
    cases = {
        "de.stats.json": [f"{tmp_path / 'de.stats.json'}: the statistics of a corpus file (a JSON object), not its "
                          f"documents; corpus show reads the .jsonl documents file: {tmp_path / 'de.jsonl'}"],
        "de.predictions.jsonl": [f"{tmp_path / 'de.predictions.jsonl'}, line 1: a record without 'text' (keys: id, "
                                 f"prediction, correct), not a corpus document; corpus show reads a corpus's .jsonl "
                                 f"documents file"],
        "model.safetensors": [f"{tmp_path / 'model.safetensors'}: not a text file (line 1 is binary)",
                              "corpus show reads a corpus's .jsonl documents"],
        "none.jsonl": [f"{tmp_path / 'none.jsonl'}: no such file"],
        "list.jsonl": [f"{tmp_path / 'list.jsonl'}, line 1: a list, not a corpus document"],
        "": [f"{tmp_path}: a folder, not a file"],
    }
    for name, messages in cases.items():
        assert main(["corpus", "show", str(tmp_path / name)]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "delete" not in err, err
        for m in messages:
            assert m in err, err
    # a corpus file cut short is damaged: only then is deleting it the advice
    assert main(["corpus", "show", str(tmp_path / "cut.jsonl")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'cut.jsonl'}, line 3: not JSON (" in err
    assert ") after 2 documents: a damaged corpus file; delete it and rerun rule corpus" in err
    assert main(["corpus", "show", str(tmp_path / "de.jsonl"), "--head", "3"]) == 0
    assert capsys.readouterr().out.count("--- d") == 3
    assert main(["corpus", "show", str(tmp_path / "de.jsonl"), "--head", "0"]) == 0
    assert "--- d" not in capsys.readouterr().out
    with pytest.raises(SystemExit):  # argparse: usage and one line, exit status 2
        main(["corpus", "show", str(tmp_path / "de.jsonl"), "--head", "-1"])
    assert "--head: -1 is negative; give how many documents to print (0 or more)" in capsys.readouterr().err


def test_config_check_says_what_a_file_is_instead_of_a_traceback(root, tmp_path, capsys, monkeypatch):
    """A binary file, a folder, and an overlay checked alone: one sentence each."""
    from mwork.__main__ import main

    (tmp_path / "bin.yaml").write_bytes(bytes(range(128, 256)) * 4)
    (tmp_path / "nul.yaml").write_bytes(b"seed: 0\x00\x01\n")
    for path, message in ((tmp_path / "bin.yaml", f"{tmp_path / 'bin.yaml'}: not a text file (byte 1 is not UTF-8)"),
                          (tmp_path / "nul.yaml", f"{tmp_path / 'nul.yaml'}: not a text file (it holds the control "
                                                  f"character #x0000)"),
                          (tmp_path, f"{tmp_path}: a folder, not a config file")):
        assert main(["config", "check", str(path)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    monkeypatch.chdir(root)
    assert main(["config", "check", "configs/real.yaml"]) == 2
    err = capsys.readouterr().err
    assert ("error: configs/real.yaml: an overlay for config.yaml (it has no corpora of its own); "
            "Snakemake layers it over config.yaml, so check the two together: "
            "python -m mwork config check config.yaml configs/real.yaml") in err, err
    assert main(["config", "check", "config.yaml", "configs/real.yaml"]) == 0
    assert "models qwen, gemma" in capsys.readouterr().out


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


def test_a_file_or_an_unwritable_folder_in_results_is_one_sentence_at_dag_build(root, tmp_path, monkeypatch):
    """Before Snakemake removes or touches an old output: a file where the results
    folder or one of its folders should be, or a folder that takes no new file, is named at DAG build."""
    import subprocess
    import sys
    import tempfile

    from mwork.errors import MworkError
    from mwork.workflow import check_results_tree

    (tmp_path / "results" / "organism").mkdir(parents=True)
    (tmp_path / "results" / "eval").write_text("not a folder", encoding="utf-8")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(root / "Snakefile"), "-n", "results/table7.csv", "--cores", "1",
           "--directory", str(tmp_path), "--configfile", str(root / "config.yaml")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "results/eval: a file where a folder of the workflow's outputs should be" in out.stderr + out.stdout
    assert "Traceback (most recent call last)" not in out.stderr
    (tmp_path / "results" / "eval").unlink()
    check_results_tree(str(tmp_path / "results"))  # a sound tree passes
    real = tempfile.TemporaryFile

    def refuse(dir=None, **kw):  # an immutable folder (chattr +i) refuses even root
        if str(dir).endswith("organism"):
            raise PermissionError(1, "Operation not permitted")
        return real(dir=dir, **kw)

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    with pytest.raises(MworkError, match=r"results/organism: cannot write the workflow's outputs there \(Operation not permitted\)"):
        check_results_tree(str(tmp_path / "results"))
    (tmp_path / "results2").write_text("x", encoding="utf-8")
    with pytest.raises(MworkError, match=r"results2: a file where the results folder should be"):
        check_results_tree(str(tmp_path / "results2"))
