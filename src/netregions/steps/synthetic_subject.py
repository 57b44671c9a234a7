"""Rule ``synthetic_subject``: one synthetic subject's run, confounds and true time courses."""

from pathlib import Path

from netregions.data.synthetic import write_subject

__all__ = ["synthetic_subject"]


def synthetic_subject(
    maps: str,
    bold: str,
    sidecar: str,
    confounds: str,
    truth: str,
    *,
    subject: str,
    n_volumes: int,
    t_r: float,
    noise: float,
    seed: int,
) -> None:
    """Generate subject ``subject`` from the planted maps and write its files."""
    written = write_subject(
        Path(bold).parent, subject, truth_maps_path=maps, n_volumes=n_volumes, t_r=t_r,
        noise=noise, seed=seed,
    )  # fmt: skip
    expected = {"bold": bold, "sidecar": sidecar, "confounds": confounds, "truth": truth}
    if any(str(written[key]) != str(path) for key, path in expected.items()):
        raise ValueError(f"synthetic subject written to {written}, expected {expected}")
