"""rule corpus: one language of one corpus -> results/corpus/{corpus}/{lang}.jsonl (+ stats)."""
from mwork.corpus import build_pool, corpus_stats, n_docs_for, sample_documents
from mwork.io import file_sha256, write_json, write_jsonl
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    spec, lang, corpus = snakemake.params.spec, snakemake.wildcards.lang, snakemake.wildcards.corpus
    seed = snakemake.params.seed
    pool = build_pool(spec, lang, seed, corpus)
    docs = sample_documents(pool, n_docs_for(spec, lang), seed, corpus, lang, spec.get("heldout_fraction", 0.1))
    stats = corpus_stats(docs, pool, lang)
    log.info("%s/%s: %d documents (%d held out) from a pool of %d", corpus, lang, len(docs),
             stats["heldout_documents"], len(pool.texts))
    write_jsonl(snakemake.output.docs, docs)
    # the documents' hash: every reader checks the file against it (mwork.corpus.read_corpus)
    write_json(snakemake.output.stats, {"corpus": corpus, "source": spec["source"], **stats,
                                        "sha256": file_sha256(snakemake.output.docs)})
