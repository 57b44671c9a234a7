"""File names and confound columns of the development-fMRI layout (fMRIPrep derivatives).

One place for the names that the data sources, the input checks and the workflow share.
Only the standard library is imported here, so the Snakemake process can use it at no cost
(every workflow invocation, no-op reruns included, discovers the subjects through it).
"""

__all__ = [
    "FMRIPREP_CONFOUNDS_SUFFIX",
    "FUNC_SUFFIX",
    "FUNC_SIDECAR_SUFFIX",
    "MISSING_CELLS",
    "MISSING_VALUES",
    "REDUCED_CONFOUNDS_SUFFIX",
    "REDUCED_CONFOUND_COLUMNS",
    "kind_file_name",
    "synthetic_subjects",
]

#: ``sub-<label>`` + this = a preprocessed BOLD run.
FUNC_SUFFIX = "_task-pixar_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz"

#: ``sub-<label>`` + this = the run's JSON sidecar (the synthetic source writes one; the
#: development data have none).
FUNC_SIDECAR_SUFFIX = FUNC_SUFFIX.removesuffix(".nii.gz") + ".json"

#: ``sub-<label>`` + this = the 15-column confounds table the workflow reads.
REDUCED_CONFOUNDS_SUFFIX = "_task-pixar_desc-reducedConfounds_regressors.tsv"

#: ``sub-<label>`` + this = fMRIPrep's full confounds table (as downloaded).
FMRIPREP_CONFOUNDS_SUFFIX = "_task-pixar_desc-confounds_regressors.tsv"

#: Columns of the reduced confounds, in this order (the reference dataset fetcher's choice).
REDUCED_CONFOUND_COLUMNS = (
    "trans_x",
    "trans_y",
    "trans_z",
    "rot_x",
    "rot_y",
    "rot_z",
    "framewise_displacement",
    "a_comp_cor_00",
    "a_comp_cor_01",
    "a_comp_cor_02",
    "a_comp_cor_03",
    "a_comp_cor_04",
    "a_comp_cor_05",
    "csf",
    "white_matter",
)

#: Spellings of a missing confound value (fMRIPrep writes ``n/a``; numpy writes ``nan``).
MISSING_VALUES = frozenset({"n/a", "na", "nan", ""})
#: Cells of a participants table that hold no value (BIDS writes ``n/a``), stripped.
MISSING_CELLS = frozenset({"", "n/a"})


def synthetic_subjects(n_subjects: int) -> list[str]:
    """Labels of the first ``n_subjects`` synthetic subjects.

    Parameters
    ----------
    n_subjects : int
        At least 1.

    Returns
    -------
    list of str
        ``["01", "02", ...]``, zero-padded to at least 2 digits (more when needed, so that the
        labels sort in numeric order).
    """
    if n_subjects < 1:
        raise ValueError(f"n_subjects must be at least 1, got {n_subjects}")
    width = max(2, len(str(n_subjects)))
    return [f"{k:0{width}d}" for k in range(1, n_subjects + 1)]


def kind_file_name(kind: str) -> str:
    """A connectivity kind in file names and array keys: spaces as underscores.

    Parameters
    ----------
    kind : str
        A connectivity kind, e.g. "partial correlation".

    Returns
    -------
    str
        e.g. "partial_correlation".
    """
    return kind.replace(" ", "_")
