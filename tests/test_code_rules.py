"""Rules the code keeps: public APIs only, no forking, no citations of files outside the repo."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUNTIME = [
    *REPO.glob("src/**/*.py"),
    *REPO.glob("workflow/**/*.smk"),
    *REPO.glob("workflow/**/*.py"),
]

PRIVATE_IMPORT = re.compile(
    r"(from|import)\s+(sklearn|scipy|numba|snakemake|nibabel|numpy)(\.\w+)*\._\w+"
    r"|from\s+(sklearn|scipy|numba|snakemake|nibabel|numpy)[\w.]*\s+import\s+_\w+"
)


@pytest.mark.parametrize("path", RUNTIME, ids=lambda p: str(p.relative_to(REPO)))
def test_no_private_api_fork_or_scheduler_hook(path):
    text = path.read_text()
    assert not PRIVATE_IMPORT.search(text)
    assert "os.fork(" not in text and "_schedule_reevalutation" not in text
    assert "import nilearn" not in text and "from nilearn" not in text


#: The specifications' folder beside the repository, which a clone does not have.
OUTSIDE = "/".join(["..", "shared"])


def test_nothing_cites_the_shared_folder():
    files = [*RUNTIME, *REPO.glob("docs/**/*.md"), REPO / "README.md", *REPO.glob("tests/**/*.py")]
    assert [p for p in files if OUTSIDE in p.read_text()] == []
