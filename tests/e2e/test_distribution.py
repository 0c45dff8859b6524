"""The tap's wheel: `tap_heymarket` and nothing else, described as the whole tap.

Built from this checkout as a user's `pip install` builds it (`pip wheel`, an isolated
build with the declared backend). The sandbox and the development helpers must stay in
the repository: a fake API with fixed credentials has no place in a user's environment.
"""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tap_heymarket.tap import TapHeymarket
from tests.support.tap_runner import REPO_ROOT, clean_env, sandbox_config

#: What a fresh clone does not have (a `build/` left by an earlier build would be packed again).
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", ".meltano", "build", "*.egg-info", "mutants", "output", "__pycache__"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "tap-heymarket"
    shutil.copytree(REPO_ROOT, source, ignore=NOT_IN_A_CLONE)
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(source), "-w", str(out)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (built,) = out.glob("tap_heymarket-*.whl")
    return built


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
    with zipfile.ZipFile(wheel) as archive:
        (meta,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(meta))
    summary = metadata["Summary"]
    about = TapHeymarket.__doc__ or ""
    for name, words in stream_words().items():
        for text in (summary, about):
            assert all(word in text for word in words), (name, text)
    assert "Typing :: Typed" in metadata.get_all("Classifier")
