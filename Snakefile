"""clickbench: interactive segmentation benchmarked by simulated clicks.

snakemake --cores 2                              # the embedded demo (config/config.yaml)
snakemake --cores 8 --configfile config/fish.yaml
snakemake --profile profiles/slurm --configfile config/fish.yaml
"""

from snakemake.utils import min_version

min_version("9.0")  # pyproject.toml pins snakemake>=9,<10


# The embedded demo runs only when no config file is given: a `--configfile FILE` (or a
# profile's `configfile:`) describes the whole run, plus the schema's defaults, and nothing of
# the demo leaks into it. `--config key=value` overrides either (config/README.md).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/demo.smk"
include: "rules/dedup.smk"
include: "rules/models.smk"
include: "rules/report.smk"
include: "rules/download.smk"
include: "rules/browser.smk"


# Snakemake's scheduler leaves a 1 s timer behind that the interpreter waits for at exit;
# cancelling it ends every run about 1 s sooner (clickbench.snakemake_exit)
onsuccess:
    cancel_rescheduling_timers()


onerror:
    cancel_rescheduling_timers()


rule all:
    default_target: True
    input:
        evaluation_targets,
