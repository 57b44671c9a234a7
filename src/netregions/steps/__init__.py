"""One module per workflow rule: files in, files out.

Each module holds one public function named after its rule (``rule preprocess_subject`` →
``netregions.steps.preprocess_subject.preprocess_subject``), whose parameters are the
rule's input, output and params names; the rule's ``run:`` block hands it to
:func:`netregions.workflow.run_in_process`, or its ``workflow/scripts/<rule>.py`` to
:func:`netregions.workflow.run_step`. Steps read their inputs once, call the array library
(:mod:`netregions.masking`, :mod:`netregions.signal`, :mod:`netregions.decomposition`, ...)
and write every output atomically; they pass loaded data down explicitly and keep no state
between calls.

:data:`STAGES` names every rule of the workflow once, with where it runs: per run (one job
per BOLD file), per group (one job for all runs, or one per kind or seed), or a figure.
A test keeps it equal to the rules of the Snakefile.
"""

__all__ = ["STAGES"]

#: Every rule of the workflow and its kind ("input", "run", "group", "figure", "report").
STAGES: dict[str, str] = {
    "synthetic_truth": "input",
    "synthetic_subject": "input",
    "synthetic_participants": "input",
    "download_participants": "input",
    "download_subject": "input",
    "check_inputs": "input",
    "load_subject": "run",
    "qc": "group",
    "group_mask": "group",
    "preprocess_subject": "run",
    "decompose": "group",
    "consensus": "group",
    "extract_regions": "group",
    "subject_timeseries": "run",
    "connectivity": "group",
    "tangent_connectome": "run",
    "dual_regression": "run",
    "qcfc": "group",
    "group_comparison": "group",
    "plot_components": "figure",
    "plot_regions": "figure",
    "plot_connectome": "figure",
    "plot_motion": "figure",
    "plot_qc": "figure",
    "plot_stability": "figure",
    "provenance": "report",
    "dataset_description": "report",
}
