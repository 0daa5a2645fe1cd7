import pytest
import torch

from mwork.config import check_deactivation
from mwork.deactivation import check_setting, count, select, setting_groups, stage_layers
from mwork.errors import MworkError

SIZES = {"attn.q": 8, "attn.k": 4, "attn.v": 4, "ffn": 16}


def _lang(n_layers=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = {}
    for i in range(n_layers):
        for k, n in SIZES.items():
            key = f"layers.{i}.{k}"
            t[key] = torch.rand(n, generator=g) < 0.3
            t[f"{key}.count"] = torch.randint(0, 50, (n,), generator=g, dtype=torch.int32)
            t[f"{key}.mean"] = torch.rand(n, generator=g)
    return t


def test_stages_and_groups():
    layers = stage_layers(8, 2, 1)
    assert layers == {"under": [0, 1], "task": [2, 3, 4, 5, 6], "gen": [7]}
    g = setting_groups({"s_attn": True, "gen": True, "neurons": "lang"}, layers)
    assert g["s_attn"][0] == "layers.2.attn.q" and all("ffn" not in k for k in g["s_attn"])
    assert set(g["gen"]) == {f"layers.7.{k}" for k in SIZES}
    with pytest.raises(MworkError, match="leave no task-solving layer"):
        stage_layers(4, 2, 2, "config.models.m.stages")


def test_lang_selection_and_matched_random():
    layers = stage_layers(4, 1, 1)
    t = _lang()
    spec = {"under": True, "s_ffn": True, "neurons": "lang"}
    lang = select(spec, t, layers, SIZES, seed="s")
    assert torch.equal(lang["layers.0.attn.q"], t["layers.0.attn.q"]) and torch.equal(lang["layers.1.ffn"], t["layers.1.ffn"])
    assert "layers.1.attn.q" not in lang and "layers.3.ffn" not in lang  # S-ATTN and Gen not touched
    rnd = select({**spec, "neurons": "random"}, t, layers, SIZES, seed="s")
    # matched per stage and kind
    for kind in SIZES:
        assert sum(int(rnd[k].sum()) for k in rnd if k.startswith("layers.0.") and k.endswith(kind)) == \
            int(t[f"layers.0.{kind}"].sum())
    assert sum(int(rnd[f"layers.{i}.ffn"].sum()) for i in (1, 2)) == sum(int(t[f"layers.{i}.ffn"].sum()) for i in (1, 2))
    assert count(rnd) == count(lang)
    again = select({**spec, "neurons": "random"}, t, layers, SIZES, seed="s")
    other = select({**spec, "neurons": "random"}, t, layers, SIZES, seed="t")
    assert all(torch.equal(rnd[k], again[k]) for k in rnd) and any(not torch.equal(rnd[k], other[k]) for k in rnd)


def _per(masks, key):
    """Neurons per group: ``key`` maps a mask key (``layers.{i}.{kind}``) to its group."""
    out = {}
    for k, m in masks.items():
        if not k.endswith((".count", ".mean")):
            out[key(k)] = out.get(key(k), 0) + int(m.sum())
    return out


def test_random_control_matches_each_layer_and_kind_of_the_set_after_exclude_and_budget():
    """deactivation.random_match: layer (the default): exactly as many random neurons in each (layer, module
    kind) as X's set after the exclusion and the budget; seeded by the string seed."""
    layers = stage_layers(4, 1, 1)
    t, en = _lang(), _lang(seed=1)
    spec = {"under": True, "s_attn": True, "s_ffn": True, "neurons": "lang", "exclude": "en"}
    kw = {"budget": {"attn": 9, "ffn": 7}, "exclude_masks": [en]}
    lang = select(spec, t, layers, SIZES, seed="s", **kw)
    rnd = select({**spec, "neurons": "random"}, t, layers, SIZES, seed="s", **kw)
    per_layer = _per(lang, lambda k: k)
    assert count(lang) == {"attn": 9, "ffn": 7, "total": 16}
    assert _per(rnd, lambda k: k) == per_layer  # every (layer, kind), not only the stage's total
    assert any(not torch.equal(rnd[k], lang[k]) for k in rnd)
    again = select({**spec, "neurons": "random"}, t, layers, SIZES, seed="s", **kw)
    other = select({**spec, "neurons": "random"}, t, layers, SIZES, seed="t", **kw)
    assert all(torch.equal(rnd[k], again[k]) for k in rnd)
    assert any(not torch.equal(rnd[k], other[k]) for k in rnd) and _per(other, lambda k: k) == per_layer


def test_stage_matched_random_control_keeps_the_old_per_stage_draw():
    """random_match: stage matches the count per (stage, kind) only, uniform over the stage's layers: a set
    held by one layer of a stage gets a control in its other layers too (layer matching keeps it there)."""
    from mwork.keys import parse_key

    layers = stage_layers(6, 1, 1)  # task stage: layers 1-4
    t = _lang(6)
    for i in (2, 3, 4):  # X's S-FFN neurons all in layer 1
        t[f"layers.{i}.ffn"] = torch.zeros_like(t[f"layers.{i}.ffn"])
    spec = {"under": True, "s_attn": True, "s_ffn": True, "neurons": "random"}
    lang = select({**spec, "neurons": "lang"}, t, layers, SIZES, seed="s")
    stage = select(spec, t, layers, SIZES, seed="s", random_match="stage")
    stage_of = {i: name for name, ls in layers.items() for i in ls}

    def by_stage(k):
        return stage_of[parse_key(k)[0]], parse_key(k)[1]

    assert _per(stage, by_stage) == _per(lang, by_stage)
    assert sum(int(stage[f"layers.{i}.ffn"].sum()) for i in (2, 3, 4)) > 0  # spread over the stage
    layer = select(spec, t, layers, SIZES, seed="s")
    assert all(int(layer[f"layers.{i}.ffn"].sum()) == 0 for i in (2, 3, 4))
    # the earlier draw, exactly: one rng over the (stage, kind) groups' pools in order
    import random
    import zlib

    from mwork.deactivation import setting_groups
    from mwork.keys import KINDS

    rng, old = random.Random(zlib.crc32(b"s")), {k: torch.zeros_like(v) for k, v in stage.items()}
    for ks in setting_groups(spec, layers).values():
        for kind in KINDS:
            group = [k for k in ks if k.endswith("." + kind)]
            if group:
                pool = [(k, i) for k in group for i in range(SIZES[kind])]
                for k, i in rng.sample(pool, sum(int(lang[k].sum()) for k in group)):
                    old[k][i] = True
    assert all(torch.equal(stage[k], old[k]) for k in stage)
    with pytest.raises(MworkError, match=r"config\.deactivation\.random_match: 'kind' is not one of layer, stage"):
        select(spec, t, layers, SIZES, seed="s", random_match="kind")


def test_budget_keeps_most_consistent_and_exclusions():
    layers = stage_layers(4, 1, 1)
    t = _lang()
    spec = {"s_ffn": True, "neurons": "lang"}
    chosen = select(spec, t, layers, SIZES, seed="s", budget={"ffn": 3})
    assert count(chosen)["ffn"] == 3
    kept_counts = sorted(int(t[f"{k}.count"][i]) for k in chosen for i in chosen[k].nonzero().flatten())
    all_counts = sorted(int(t[f"layers.{i}.ffn.count"][j]) for i in (1, 2) for j in t[f"layers.{i}.ffn"].nonzero().flatten())
    assert kept_counts == all_counts[-3:]
    with pytest.raises(MworkError, match="budget.ffn: 999 neurons requested"):
        select(spec, t, layers, SIZES, seed="s", budget={"ffn": 999})
    en = _lang(seed=1)
    minus_en = select({**spec, "exclude": "en"}, t, layers, SIZES, seed="s", exclude_masks=[en])
    assert torch.equal(minus_en["layers.1.ffn"], t["layers.1.ffn"] & ~en["layers.1.ffn"])
    zh = _lang(seed=2)
    minus_all = select({**spec, "exclude": "all"}, t, layers, SIZES, seed="s", exclude_all=[t, en, zh])
    common = t["layers.2.ffn"] & en["layers.2.ffn"] & zh["layers.2.ffn"]
    assert torch.equal(minus_all["layers.2.ffn"], t["layers.2.ffn"] & ~common)


def test_bad_settings_are_clear():
    with pytest.raises(MworkError, match=r"deactivation.settings.x: unknown key\(s\) \['stage9'\]"):
        check_setting("x", {"stage9": True, "neurons": "lang"})
    with pytest.raises(MworkError, match="neurons: must be lang or random"):
        check_setting("x", {"under": True, "neurons": "all"})
    with pytest.raises(MworkError, match="deactivates no stage"):
        check_setting("x", {"neurons": "lang"})
    cfg = {"run_models": [], "models": {}, "deactivation": {"settings": {"a": {"gen": True, "neurons": "lang"}},
                                                             "tables": {"3": {"task": "reasoning", "rows": ["a", "b"]}}}}
    with pytest.raises(MworkError, match=r"tables.3: setting 'b' is not defined"):
        check_deactivation(cfg)
    cfg["deactivation"] = {"settings": {"a": {"gen": True, "neurons": "lang", "selection": "paper"}}, "tables": {}}
    with pytest.raises(MworkError, match=r"config.deactivation.settings.a.selection: 'paper' is not a selection rule"):
        check_deactivation(cfg)
    cfg["deactivation"]["settings"]["a"]["selection"] = "threshold_share"
    check_deactivation(cfg)


def test_budget_ignores_structures_a_setting_does_not_touch():
    layers = stage_layers(4, 1, 1)
    chosen = select({"s_attn": True, "neurons": "lang"}, _lang(), layers, SIZES, seed="s", budget={"attn": 2, "ffn": 5})
    assert count(chosen) == {"attn": 2, "ffn": 0, "total": 2}


def test_equal_budget_gives_every_stage_table_row_the_same_count_per_structure():
    from mwork.deactivation import equal_budget
    from mwork.stages import setting_budget

    layers = stage_layers(4, 1, 1)
    t = _lang()
    settings = {"S_lang": {"s_attn": True, "s_ffn": True, "neurons": "lang"}, "G_lang": {"gen": True, "neurons": "lang"},
                "S_random": {"s_attn": True, "s_ffn": True, "neurons": "random"},
                "S_minus_en": {"s_attn": True, "s_ffn": True, "neurons": "lang", "exclude": "en"},
                "Full_lang": {"under": True, "s_attn": True, "s_ffn": True, "gen": True, "neurons": "lang"}}
    d = {"budget": "equal", "settings": settings,
         "tables": {"1": {"rows": ["Full_lang"]}, "3": {"rows": ["S_random", "S_lang", "G_lang", "S_minus_en"]}}}
    spec = setting_budget("S_lang", d)
    assert set(spec["equal"]) == {"S_random", "S_lang", "G_lang"}  # the exclusion is an ablation, not a bound
    assert setting_budget("Full_lang", d) is None and setting_budget("tuneU2", d) is None
    assert setting_budget("S_lang", {**d, "budget": None}) is None
    budget = equal_budget(spec["equal"], t, layers)
    g = {s: sum(int(t[f"layers.3.{k}"].sum()) for k in (("attn.q", "attn.k", "attn.v") if s == "attn" else ("ffn",)))
         for s in ("attn", "ffn")}
    assert budget == g  # the one generation layer holds the fewest of X's neurons
    counts = [count(select(settings[n], t, layers, SIZES, seed="s", budget=budget, strict=False))
              for n in ("S_lang", "G_lang", "S_random")]
    assert counts[0] == counts[1] == counts[2] and counts[0]["attn"] == g["attn"]
    few = select(settings["S_minus_en"], t, layers, SIZES, seed="s", budget={"attn": 10**6, "ffn": 10**6},
                 strict=False, exclude_masks=[t])  # everything excluded: fewer than the budget, no error
    assert count(few)["total"] == 0


def test_setting_masks_assemble_a_setting_in_one_call(tmp_path):
    """Files as the evaluate rule gets them: X's and English's neuron files, the lens's stage file."""
    from tinymodels import make_model

    from mwork.arch import get_adapter
    from mwork.deactivation import setting_masks
    from mwork.fingerprint import model_fingerprint
    from mwork.io import write_json
    from mwork.neurons import save_neurons

    model = make_model("llama")
    adapter = get_adapter(model)
    g = torch.Generator().manual_seed(0)
    files = []
    for lang in ("de", "en"):
        t = {}
        for i in range(adapter.n_layers):
            for k, n in adapter.sizes().items():
                t[f"layers.{i}.{k}"] = torch.rand(n, generator=g) < 0.3
                t[f"layers.{i}.{k}.count"] = torch.randint(0, 9, (n,), generator=g, dtype=torch.int32)
                t[f"layers.{i}.{k}.mean"] = torch.rand(n, generator=g)
        save_neurons(tmp_path / f"{lang}.safetensors", t, {"model_fingerprint": model_fingerprint(model),
                                                            "language": lang})
        files.append(str(tmp_path / f"{lang}.safetensors"))
    spec = {"under": True, "s_attn": True, "s_ffn": True, "gen": True, "neurons": "lang", "exclude": "en"}
    d = {"name": "All_minus_en", "language": "de", "spec": spec, "stages": stage_layers(2, 0, 1), "budget": None,
         "seed": "s"}
    masks, record = setting_masks(d, files, model)
    from mwork.neurons import load_neurons

    de, en = load_neurons(files[0])[0], load_neurons(files[1])[0]
    assert all(torch.equal(masks[k], de[k] & ~en[k]) for k in de)  # X's set less English's
    assert record["setting"] == "All_minus_en" and record["n_deactivated"]["total"] == count(masks)["total"] > 0
    write_json(tmp_path / "lens_stages.json", {"under": None, "gen": None, "layers": 2, "note": "no English phase"})
    with pytest.raises(MworkError, match=r"lens_stages\.json: no stage boundaries \(no English phase\)"):
        setting_masks({**d, "stages": "lens"}, [*files, str(tmp_path / "lens_stages.json")], model)
    write_json(tmp_path / "lens_stages.json", {"under": 0, "gen": 1, "layers": 2})
    masks_lens, rec = setting_masks({**d, "stages": "lens"}, [*files, str(tmp_path / "lens_stages.json")], model)
    assert rec["stages"] == stage_layers(2, 0, 1) and all(torch.equal(masks_lens[k], masks[k]) for k in masks)
    # a random control: matched per layer unless the DAG passes random_match, which the record keeps with the seed
    # (one task stage of both layers: with one layer per stage, the two matchings draw the same neurons)
    rnd = {**d, "name": "S_random", "spec": {"s_attn": True, "s_ffn": True, "neurons": "random", "exclude": "en"},
           "stages": stage_layers(2, 0, 0)}
    masks_r, rec_r = setting_masks(rnd, files, model)
    assert rec_r["random_match"] == "layer" and rec_r["seed"] == "s" and "random_match" not in record
    assert all(int(masks_r[k].sum()) == int(masks[k].sum()) for k in masks)
    masks_s, rec_s = setting_masks({**rnd, "random_match": "stage"}, files, model)
    assert rec_s["random_match"] == "stage" and count(masks_s) == count(masks)
    assert any(int(masks_s[k].sum()) != int(masks[k].sum()) for k in masks)


def _neuron_file(path, model, **meta):
    from mwork.arch import get_adapter
    from mwork.fingerprint import model_fingerprint
    from mwork.neurons import save_neurons

    adapter = get_adapter(model)
    t = {}
    for i in range(adapter.n_layers):
        for k, n in adapter.sizes().items():
            t[f"layers.{i}.{k}"] = torch.arange(n) % 3 == 0
            t[f"layers.{i}.{k}.count"] = torch.arange(n, dtype=torch.int32)
            t[f"layers.{i}.{k}.mean"] = torch.rand(n)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_neurons(path, t, {"model_fingerprint": model_fingerprint(model), **meta})


def test_a_neuron_file_copied_from_another_language_is_refused(tmp_path):
    """zh.safetensors copied to de.safetensors ran S_lang@de with Chinese neurons and recorded
    neuron_language: de; a file of another corpus (bible's set in catalogs' folder) likewise."""
    import shutil

    from tinymodels import make_model

    from mwork.deactivation import setting_masks

    model = make_model("llama")
    folder = tmp_path / "results" / "organism" / "neurons" / "catalogs"
    for lang in ("zh", "en"):
        _neuron_file(folder / f"{lang}.safetensors", model, language=lang, corpus="catalogs")
    shutil.copy(folder / "zh.safetensors", folder / "de.safetensors")
    d = {"name": "S_lang", "language": "de", "spec": {"s_attn": True, "s_ffn": True, "neurons": "lang"},
         "stages": stage_layers(2, 0, 1), "budget": None, "seed": "s"}
    with pytest.raises(MworkError, match=r"catalogs/de\.safetensors: holds the neurons of language 'zh' \(its "
                                         r"metadata\), but this job expected language 'de'; a file copied or "
                                         r"renamed from another one\? Delete it and rerun rule plnd"):
        setting_masks(d, [str(folder / "de.safetensors")], model)
    # the exclusion's file (English's) is checked too
    shutil.copy(folder / "zh.safetensors", folder / "en.safetensors")
    _neuron_file(folder / "de.safetensors", model, language="de", corpus="catalogs")
    with pytest.raises(MworkError, match=r"en\.safetensors: holds the neurons of language 'zh'"):
        setting_masks({**d, "spec": {**d["spec"], "exclude": "en"}},
                      [str(folder / "de.safetensors"), str(folder / "en.safetensors")], model)
    _neuron_file(folder / "de.safetensors", model, language="de", corpus="bible")
    with pytest.raises(MworkError, match=r"holds the neurons of corpus 'bible' .* expected corpus 'catalogs'"):
        setting_masks(d, [str(folder / "de.safetensors")], model)
    _neuron_file(folder / "de.safetensors", model, language="de", corpus="catalogs")
    assert setting_masks(d, [str(folder / "de.safetensors")], model)[1]["neuron_language"] == "de"


@pytest.mark.parametrize("found, message", [
    ({"under": "1", "gen": 1, "layers": 2}, r"under is '1', not a whole number"),
    ({"under": 1.0, "gen": 0, "layers": 2}, r"under is 1\.0, not a whole number"),
    ({"under": 0, "gen": True, "layers": 2}, r"gen is True, not a whole number"),
    ({"under": 0, "gen": None, "layers": 2}, r"gen is None, not a whole number"),
    ({"under": 0, "gen": 1}, r"layers is missing"),
    ([0, 1, 2], r"a list, not a JSON object of stage boundaries"),
    ({"under": 0, "gen": 1, "layers": 4}, r"layers is 4, but the model has 2 decoder layers \(a file of another "
                                          r"model\?\)"),
])
def test_a_stage_file_is_type_checked_naming_the_file_and_field(tmp_path, found, message):
    """A hand-edited lens_stages.json is an error naming the file, the field and the rule."""
    from tinymodels import make_model

    from mwork.deactivation import setting_masks
    from mwork.io import write_json

    path = tmp_path / "lens_stages.json"
    write_json(path, found)
    spec = {"under": True, "neurons": "lang"}
    d = {"name": "U_lang", "language": "de", "spec": spec, "stages": "lens", "budget": None, "seed": "s"}
    with pytest.raises(MworkError, match=rf"lens_stages\.json: {message}; delete it and rerun \(rule lens_stages "
                                         rf"writes it\)"):
        setting_masks(d, [str(tmp_path / "de.safetensors"), str(path)], make_model("llama"))
