"""Tables -> results/<dataset>/summary.md, the headline numbers in Markdown.

input: the tables of clickbench.tables.TABLES by name (`selection` optional: the dedup vs
index-rule paragraph); optional `dedup` (dedup_summary.tsv), `index_rule` (tables/index_rule.tsv)
shown verbatim, `provenance` (provenance.yaml) appended, and `timing` (timing.tsv);
params: dataset. Links the results browser (clickbench.browser.INDEX, written beside it by
rule browser).
"""

import logging

from clickbench import browser, protocol_tables, summary, tables

logging.basicConfig(
    filename=snakemake.log[0], level=logging.INFO, format="%(levelname)s %(message)s"
)

names = dict(snakemake.input.items())
extra = {}
if "dedup" in names:
    extra["Dedup: originals picked per class"] = names["dedup"]
if "index_rule" in names:
    extra["The study's index-rule picks per class"] = names["index_rule"]
summary.write(
    snakemake.output[0],
    snakemake.params.dataset,
    {name: names[name] for name in (*tables.TABLES, *protocol_tables.TABLES) if name in names},
    extra,
    names.get("provenance"),
    names.get("timing"),
    browser=browser.INDEX,
)
logging.info("wrote %s", snakemake.output[0])
