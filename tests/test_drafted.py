"""Greedy generation checked against a draft (eval.engine.draft, mwork.drafted): whatever the draft (the
model's own answer, the deactivated model's answer, none, nonsense, cut short or too long), the text is plain
greedy generation's, with stop strings and token budgets; the store keeps drafted generations apart and
reads the plain ones first; the config is checked."""
import pytest
import torch
from tinymodels import make_model, tokenizer

import mwork.evaluate as ev
from mwork.drafted import accepted, check_drafting, generate_drafted, settled
from mwork.errors import MworkError
from mwork.gencache import GenerationStore
from mwork.masking import deactivate

PROMPTS = ["<3> <4> <5>", "<9>", "<7> <7> <7> <7> <7> <8>", "<12> <40> <2> <33>", "<5> <6>", "<20> <21> <22>",
           "<30> <31>", "<44> <45> <46> <47>"]


def _setup(arch="qwen2"):
    model, tok = make_model(arch), tokenizer()
    tok.add_special_tokens({"pad_token": "<0>"})  # a special token, as real tokenizers' pads: decoding skips it
    return model, tok


def _neurons(model, seed=2):
    from mwork.arch import get_adapter

    g = torch.Generator().manual_seed(seed)
    return {f"layers.{layer}.{kind}": torch.rand(n, generator=g) < 0.25
            for layer in range(model.config.num_hidden_layers) for kind, n in get_adapter(model).sizes().items()}


@pytest.mark.parametrize("arch", ["qwen2", "llama", "gemma3_text"])
@pytest.mark.parametrize("stop", [[], ["<9>"]])
def test_drafted_text_is_plain_greedy_whatever_the_draft(arch, stop):
    model, tok = _setup(arch)
    neurons = _neurons(model)
    n = 10
    own = ev.generate(model, tok, PROMPTS, n, stop, batch_size=4, progress=False)
    with deactivate(model, neurons):
        plain = ev.generate(model, tok, PROMPTS, n, stop, batch_size=4, progress=False)
        assert plain != own  # the deactivation changes answers, so the model's own drafts are partly wrong
        half = [" ".join(p.split()[:len(p.split()) // 2]) for p in plain]
        drafts = {"own": own, "exact": plain, "none": [None] * len(PROMPTS), "nonsense": ["<63> <62> <61>"] * len(PROMPTS),
                  "half": half, "mixed": [d if i % 2 else None for i, d in enumerate(own)]}
        for name, draft in drafts.items():
            stats = {}
            got = generate_drafted(model, tok, PROMPTS, draft, n, stop, batch_size=3, progress=False, stats=stats)
            assert got == plain, name
            if name == "exact" and not stop:  # every answer settled by the one pass over it
                assert stats["settled_by_draft"] == len(PROMPTS)
    # the hooks were restored: drafted generation of the model as it is is its own greedy text
    assert generate_drafted(model, tok, PROMPTS, own, n, stop, progress=False) == own


def test_token_budget_and_a_draft_longer_than_it():
    model, tok = _setup()
    long = ev.generate(model, tok, PROMPTS, 12, progress=False)
    for budget in (1, 3, 12):
        assert generate_drafted(model, tok, PROMPTS, long, budget, progress=False) == \
            ev.generate(model, tok, PROMPTS, budget, progress=False)


def test_accepted_and_settled():
    model, tok = _setup()
    prompt = tok(PROMPTS[0])["input_ids"]
    greedy = tok(ev.generate(model, tok, PROMPTS[:1], 6, progress=False)[0])["input_ids"]
    tokens, cache = accepted(model, prompt, greedy[:4])
    assert tokens == greedy[:5] and cache.get_seq_length() == len(prompt) + 4  # all four, and the next
    wrong = greedy[:2] + [(greedy[2] + 1) % 64] + greedy[3:5]
    tokens, cache = accepted(model, prompt, wrong)
    assert tokens == greedy[:3] and cache.get_seq_length() == len(prompt) + 2  # to the first wrong one, corrected
    assert accepted(model, prompt, [])[0] == greedy[:1]
    eos = tok.eos_token_id
    assert settled(tok, [5, eos, 6], 10, []) == [5, eos]
    assert settled(tok, [5, 6, 7], 2, []) == [5, 6]
    assert settled(tok, [5, 6], 10, []) is None
    assert settled(tok, [5, 9, 6], 10, ["<9>"]) == [5, 9, 6]  # the text before the stop cannot change


def test_a_generation_config_that_is_not_argmax_is_refused():
    from mwork.tasks.suites import generate_suites

    model, tok = _setup()
    check_drafting(model)
    model.generation_config.repetition_penalty = 1.3
    recs = generate_suites(["en"], 0, {"default": 1}, 1, 6)["generation"]["en"]["test"]
    with pytest.raises(MworkError, match=r"eval.engine.draft: .*repetition_penalty=1.3.*draft: none"):
        ev.evaluate(model, tok, "generation", "en", recs, 4, progress=False, drafts={})
    with pytest.raises(MworkError, match=r"eval.engine.draft: 'model' is not one of none, original"):
        ev.engine_of({"draft": "model"})


def test_store_reads_plain_generations_first_and_keeps_drafted_ones_apart(tmp_path, monkeypatch):
    from mwork.tasks.suites import generate_suites

    model, tok = _setup()
    recs = generate_suites(["en"], 0, {"default": 1}, 8, 6)["generation"]["en"]["test"]
    neurons = _neurons(model)

    def run(store, drafts, records=recs):
        return ev.run_task(model, tok, model_name="m", task="generation", lang="en", setting="x", source="suites",
                           records=records, generation={"max_new_tokens": 5}, batch_size=2, n_items=len(records),
                           chat_template=False, seed=0, engine={"batching": "static"}, store=store, drafts=drafts)

    own, own_rows = run(None, None)
    drafts = {r["prompt"]: r["prediction"] for r in own_rows}
    with deactivate(model, neurons):
        plain, plain_rows = run(GenerationStore.open(model, tok, neurons, model_name="m", task="generation",
                                                     lang="en", root=tmp_path), None)
        calls = []
        real = ev.generate_drafted
        monkeypatch.setattr(ev, "generate_drafted", lambda m, t, prompts, *a, **k: calls.append(len(prompts))
                            or real(m, t, prompts, *a, **k))
        store = GenerationStore.open(model, tok, neurons, model_name="m", task="generation", lang="en", root=tmp_path)
        out, rows = run(store, drafts)
        assert calls == [] and rows == plain_rows  # every answer read from the plain generations
        assert out["settings"]["engine"]["draft"] == "original" and plain["settings"]["engine"]["draft"] == "none"
        more = generate_suites(["en"], 0, {"default": 1}, 12, 6)["generation"]["en"]["test"]
        _, more_rows = run(store, drafts, more)
        assert calls == [len(more) - len(recs)]
        folders = {p.parent.name for p in tmp_path.rglob("*.jsonl")}
        assert len(folders) == 2  # the plain key and the drafted key
        assert more_rows == run(None, None, more)[1]  # the drafted answers are plain greedy's


def test_answers_that_leave_their_draft_go_on_from_the_merged_caches(monkeypatch):
    """Several answers that left their drafts part-way go on in one batch on their checks' KV caches, padded
    into one: the text is plain greedy's."""
    import mwork.drafted as dr

    model, tok = _setup()
    neurons = _neurons(model)
    merged = []
    real = dr._merged
    monkeypatch.setattr(dr, "_merged", lambda *a: merged.append(len(a[0])) or real(*a))
    own = ev.generate(model, tok, PROMPTS, 10, progress=False)
    with deactivate(model, neurons):
        plain = ev.generate(model, tok, PROMPTS, 10, batch_size=4, progress=False)
        assert generate_drafted(model, tok, PROMPTS, own, 10, batch_size=3, progress=False) == plain
    assert merged and max(merged) > 1, merged
