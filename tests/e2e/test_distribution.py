"""The tap's sdist and wheel, as an index gets them: `tap_heymarket` and nothing else,
described as the whole tap, passing the index's own check.

Built from a copy of this checkout as a fresh clone holds it, with `python -m build` (an
isolated build with the declared backend: the sdist first, then the wheel from the sdist, so
the sdist is proven complete), then checked with `twine check`. The sandbox, the development
helpers and the tests stay in the repository: a fake API with fixed credentials has no place
in a user's environment, and tests that need the repository's helpers would not run from an
sdist. The wheel is installed into an empty venv and run there.
"""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from email.message import Message
from pathlib import Path

import pytest

from tap_heymarket.tap import TapHeymarket
from tests.support.tap_runner import REPO_ROOT, clean_env, sandbox_config

#: What a fresh clone does not have (a `build/` left by an earlier build would be packed again).
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", ".meltano", "build", "dist", "*.egg-info", "mutants", "output", "__pycache__"
)
INDEX_PAGE = REPO_ROOT / "docs" / "pypi.md"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "tap-heymarket"
    shutil.copytree(REPO_ROOT, source, ignore=NOT_IN_A_CLONE)
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (built,) = dist.glob("tap_heymarket-*.whl")
    return built


@pytest.fixture(scope="module")
def sdist(dist: Path) -> Path:
    (built,) = dist.glob("tap_heymarket-*.tar.gz")
    return built


def wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        (meta,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(meta))


def stream_words() -> dict[str, set[str]]:
    """Each stream the API serves -> the words of its name, singular (`team`, `member`)."""
    tap = TapHeymarket(config=sandbox_config("http://127.0.0.1:9"), parse_env_config=False)
    return {
        name: {word.removesuffix("s") for word in name.split("_")}
        for name in tap.streams
        if name != "delete_sweeps"  # the tap's own record of its sweeps
    }


def test_the_wheel_holds_the_tap_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"tap_heymarket"}


def test_the_wheel_describes_the_whole_tap(wheel: Path) -> None:
    metadata = wheel_metadata(wheel)
    summary = metadata["Summary"]
    about = TapHeymarket.__doc__ or ""
    for name, words in stream_words().items():
        for text in (summary, about):
            assert all(word in text for word in words), (name, text)
    assert "Typing :: Typed" in metadata.get_all("Classifier")


def test_the_sdist_holds_the_tap_and_no_tests(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        tops = {name.split("/")[1] for name in archive.getnames() if "/" in name}
    assert tops == {
        "tap_heymarket",
        "tap_heymarket.egg-info",
        "docs",  # the index page only (below)
        "LICENSE",
        "README.md",  # setuptools packs it whatever `readme` says
        "PKG-INFO",
        "pyproject.toml",
        "setup.cfg",
    }, tops
    with tarfile.open(sdist) as archive:
        docs = {name.split("/", 1)[1] for name in archive.getnames() if "/docs/" in name}
    assert docs == {"docs/pypi.md"}


def test_twine_check_passes(dist: Path) -> None:
    files = sorted(str(f) for f in dist.iterdir())
    assert len(files) == 2
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_the_index_page_is_made_for_an_index(wheel: Path) -> None:
    """The long description is docs/pypi.md: short, every link absolute (an index shows it
    away from the repository, where a relative link breaks), no repository-only command."""
    metadata = wheel_metadata(wheel)
    assert metadata["Description-Content-Type"] == "text/markdown"
    page = INDEX_PAGE.read_text()
    assert metadata.get_payload().strip() == page.strip()
    assert len(page.splitlines()) <= 60
    links = re.findall(r"\]\(([^)]+)\)", page)
    assert links and all(link.startswith("https://") for link in links), links
    assert "make " not in page and ".venv" not in page


def test_the_installed_wheel_runs_in_an_empty_venv(
    wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`pip install` of the wheel alone: its `tap-heymarket --about` describes every stream,
    and neither the sandbox nor the development helpers can be imported there."""
    env_dir = tmp_path_factory.mktemp("user-venv") / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=600,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    about = subprocess.run(
        [str(env_dir / "bin" / "tap-heymarket"), "--about"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=env_dir,
        timeout=120,
    )
    assert about.returncode == 0, about.stderr[-2000:]
    for name, words in stream_words().items():
        assert all(word in about.stdout for word in words), (name, about.stdout[:500])
    for package in ("heymarket_sandbox", "heymarket_dev", "tests"):
        probe = subprocess.run(
            [str(python), "-c", f"import {package}"],
            capture_output=True,
            env=clean_env(),
            cwd=env_dir,
            timeout=60,
        )
        assert probe.returncode != 0, f"{package} is importable from the wheel's venv"
