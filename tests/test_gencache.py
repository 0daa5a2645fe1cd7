"""The generation store (eval.cache): an evaluation generates only the prompts not stored under its key, a
generation is kept as soon as it is done (a killed job keeps it), the key separates everything the greedy text
depends on, and a larger n_items keeps the smaller one's items."""
import json

import pytest
import torch
from tinymodels import make_model, tokenizer

import mwork.evaluate as ev
from mwork.gencache import GenerationCache, GenerationStore, masks_digest, weights_digest
from mwork.masking import deactivate
from mwork.tasks.data import load_items, nested_sample
from mwork.tasks.suites import generate_suites


def _setup():
    model, tok = make_model("qwen2"), tokenizer()
    tok.pad_token = "<0>"
    recs = generate_suites(["en"], 0, {"default": 1}, 12, 6)["generation"]["en"]["test"]
    return model, tok, recs


def _run(model, tok, recs, store, batching="static", max_new_tokens=4):
    return ev.run_task(model, tok, model_name="m", task="generation", lang="en", setting="original", source="suites",
                       records=recs, generation={"max_new_tokens": max_new_tokens}, batch_size=2, n_items=len(recs),
                       chat_template=False, seed=0, engine={"batching": batching}, store=store)


def _count_generate(monkeypatch):
    calls = []
    real = ev.generate

    def counting(model, tokenizer, prompts, *args, **kwargs):
        calls.append(len(prompts))
        return real(model, tokenizer, prompts, *args, **kwargs)

    monkeypatch.setattr(ev, "generate", counting)
    return calls


@pytest.mark.parametrize("batching", ["static", "continuous"])
def test_stored_generations_are_the_generated_ones_and_are_not_generated_again(tmp_path, monkeypatch, batching):
    model, tok, recs = _setup()
    plain_out, plain_rows = _run(model, tok, recs, None, batching)
    calls = _count_generate(monkeypatch)
    store = GenerationStore.open(model, tok, {}, model_name="m", task="generation", lang="en", root=tmp_path)
    out, rows = _run(model, tok, recs, store, batching)
    assert rows == plain_rows and out == plain_out
    assert calls == [len(recs)]
    calls.clear()
    again = GenerationStore.open(model, tok, {}, model_name="m", task="generation", lang="en", root=tmp_path)
    assert _run(model, tok, recs, again, batching) == (out, rows) and calls == []
    # more items: only the new ones are generated
    more = generate_suites(["en"], 0, {"default": 1}, 16, 6)["generation"]["en"]["test"]
    new = {ev.build_prompt(tok, "generation", r, "en", False)[0] for r in more} - {r["prompt"] for r in rows}
    _run(model, tok, more, again, batching)
    assert sum(calls) == len(new) > 0


@pytest.mark.parametrize("batching,per_add", [("static", 2), ("continuous", 1)])
def test_a_killed_evaluation_keeps_what_it_finished(tmp_path, monkeypatch, batching, per_add):
    model, tok, recs = _setup()
    _, plain_rows = _run(model, tok, recs, None, batching)
    real_add, adds = GenerationCache.add, []

    def killed_on_the_third(self, prompts, generations):
        if len(adds) == 2:
            raise KeyboardInterrupt
        adds.append(len(prompts))
        real_add(self, prompts, generations)

    monkeypatch.setattr(GenerationCache, "add", killed_on_the_third)
    store = GenerationStore.open(model, tok, {}, model_name="m", task="generation", lang="en", root=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        _run(model, tok, recs, store, batching)
    monkeypatch.setattr(GenerationCache, "add", real_add)
    files = list(tmp_path.rglob("*.jsonl"))
    assert adds == [per_add, per_add] and len(files) == 1  # a static batch, a continuous sequence at a time
    assert len(files[0].read_text().splitlines()) == 2 * per_add
    with open(files[0], "ab") as fh:  # a line cut by the kill is skipped, also inside a multi-byte character
        fh.write('{"prompt_sha256": "ab", "generation": "答'.encode()[:-1])
    calls = _count_generate(monkeypatch)
    _, rows = _run(model, tok, recs, store, batching)
    assert rows == plain_rows and calls == [len(recs) - 2 * per_add]
    key = json.loads((files[0].parent / "key.json").read_text())
    assert key["masks"] == "none" and key["max_new_tokens"] == 4 and key["batching"] == batching


def test_the_key_separates_weights_masks_and_settings(tmp_path):
    model, tok, recs = _setup()

    def folder(model, masks, **settings):
        store = GenerationStore.open(model, tok, masks, model_name="m", task="generation", lang="en", root=tmp_path)
        return store.for_settings(**{"max_new_tokens": 4, "stop": [], "add_special_tokens": True,
                                     "batching": "static", **settings}).folder

    base = folder(model, {})
    assert folder(model, {}) == base and folder(model, {"layers.0.ffn": torch.zeros(64, dtype=torch.bool)}) == base
    sel = torch.zeros(model.config.intermediate_size, dtype=torch.bool)
    sel[3] = True
    masked = folder(model, {"layers.1.ffn": sel})
    assert masked != base and folder(model, {"layers.1.ffn": torch.tensor([3])}) == masked
    assert folder(model, {"layers.0.ffn": sel}) != masked
    assert folder(model, {}, max_new_tokens=5) != base and folder(model, {}, stop=["\n"]) != base
    assert folder(model, {}, batching="continuous") != base
    tuned = make_model("qwen2")
    with torch.no_grad():  # one weight deep inside a matrix: a tuned model's change, not in its first values
        tuned.model.layers[1].mlp.down_proj.weight[5, 17] += 1e-3
    assert weights_digest(tuned) != weights_digest(model) and folder(tuned, {}) != base
    assert weights_digest(make_model("qwen2")) == weights_digest(model)
    assert masks_digest({}) == masks_digest({"layers.0.ffn": torch.tensor([], dtype=torch.long)}) == "none"
    # what a state dict leaves out: the rotary frequencies (a non-persistent buffer)
    rope = make_model("qwen2")
    rope.model.rotary_emb.inv_freq.mul_(1.01)
    assert folder(rope, {}) != base
    # the tokenizer and the generation config
    other = tokenizer()
    other.pad_token = "<1>"
    assert GenerationStore.open(model, other, {}, model_name="m", task="generation", lang="en",
                                root=tmp_path).base["tokenizer"] != GenerationStore.open(
        model, tok, {}, model_name="m", task="generation", lang="en", root=tmp_path).base["tokenizer"]
    model.generation_config.repetition_penalty = 1.3
    assert folder(model, {}) != base


def test_an_error_storing_a_continuous_result_stops_the_generation():
    model, tok, recs = _setup()
    seen = []

    def full_disk(idx, texts):
        seen.append(idx)
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space"):
        ev.generate(model, tok, ["<3> <4>"] * 6, 4, batch_size=2, progress=False, batching="continuous",
                    on_done=full_disk)
    assert len(seen) == 1
    assert ev.generate(model, tok, ["<3> <4>"], 4, progress=False, batching="continuous")  # usable again


def test_a_stored_deactivated_generation_is_the_deactivated_models(tmp_path):
    model, tok, recs = _setup()
    sel = torch.rand(model.config.intermediate_size, generator=torch.Generator().manual_seed(0)) < 0.5
    masks = {f"layers.{i}.ffn": sel for i in range(model.config.num_hidden_layers)}
    with deactivate(model, masks):
        _, ref = _run(model, tok, recs, None)
    plain = GenerationStore.open(model, tok, {}, model_name="m", task="generation", lang="en", root=tmp_path)
    _, unmasked = _run(model, tok, recs, plain)
    store = GenerationStore.open(model, tok, masks, model_name="m", task="generation", lang="en", root=tmp_path)
    with deactivate(model, masks):
        _, rows = _run(model, tok, recs, store)
    assert rows == ref and rows != unmasked


def test_a_larger_sample_keeps_the_smaller_ones_items(tmp_path):
    assert nested_sample(range(100), 10, "k") == nested_sample(range(100), 60, "k")[:10]
    assert sorted(nested_sample(range(100), 100, "k")) == list(range(100))
    for lang in ("de", "zh"):  # MGSM's upstream layout: question TAB answer
        (tmp_path / f"mgsm_{lang}.tsv").write_text("".join(f"Q{i} {lang}?\t{i}\n" for i in range(40)), encoding="utf-8")

    def ids(lang, n):
        return [r["id"] for r in load_items("reasoning", lang, "files", n_items=n, folder=str(tmp_path))]

    for small, large in [(3, 5), (5, 20), (20, 39)]:
        assert set(ids("de", small)) < set(ids("de", large))
    assert ids("de", 20) == ids("zh", 20)
