"""rule enhance_base: the held-out perplexity of every enhancement language before any tuning."""
from mwork.enhance import heldout_perplexity
from mwork.fingerprint import model_fingerprint
from mwork.io import write_json
from mwork.models import load_model_params
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    smk = snakemake
    p = smk.params
    model, tok = load_model_params(p.model)
    ppl = heldout_perplexity(model, tok, list(smk.input.heldout), p.languages, p.perplexity["n_docs"],
                             p.perplexity["max_length"])
    write_json(smk.output[0], {"base_fingerprint": model_fingerprint(model), "perplexity": ppl})
    log.info("perplexity before tuning: %s", ppl)
