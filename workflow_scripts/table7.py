"""rule table7: corpus statistics per language, laid out like the paper's Table 7."""
from mwork.io import markdown_table, read_json, write_table, write_text
from mwork.tables import table7
from mwork.workflow import rule_script

with rule_script(snakemake) as log:
    stats = [read_json(p, made_by="corpus") for p in snakemake.input.stats]
    long, wide = table7(stats)
    write_table(long, snakemake.output.csv)
    write_text(
        snakemake.output.md,
        "Table 7 (reproduced): corpus per language. Vocabulary = distinct lowercased letter runs "
        "(each CJK character is one word; Thai counts space-delimited runs); 'corpus vocab' = types in the "
        "sampled documents, 'vocab size' = types in everything the source offered for that language.\n\n"
        + markdown_table(wide) + "\n")
