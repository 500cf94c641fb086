"""xuncha.intake.unpack on random archives (hypothesis): within the bounds an archive unpacks to exactly its files;
past a bound it is refused with 413 naming the bound, having written no more than the bound allows, and leaving no
partial file behind. Real tar (plain, gzip, bzip2, xz) and zip files on disk; no server.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from xuncha.intake.unpack import IntakeLimits, Refused, unpack_tar, unpack_zip

pytestmark = [pytest.mark.hardening, pytest.mark.timeout(300)]

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,12}\.csv", fullmatch=True)
files = st.dictionaries(names, st.binary(max_size=3000) | st.just(bytes(20000)), max_size=8)


def _archive(kind: str, content: dict[str, bytes], path: Path) -> None:
    if kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in content.items():
                zf.writestr(name, data)
        return
    with tarfile.open(path, {"tar": "w", "gz": "w:gz", "bz2": "w:bz2", "xz": "w:xz"}[kind]) as tar:
        for name, data in content.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@settings(max_examples=60, deadline=None)
@given(content=files, kind=st.sampled_from(["tar", "gz", "bz2", "xz", "zip"]),
       max_unpacked=st.integers(1, 40000), max_files=st.integers(1, 10))
def test_an_archive_unpacks_to_its_files_within_the_bounds_and_is_refused_past_them(content, kind, max_unpacked,
                                                                                     max_files):
    limits = IntakeLimits(max_unpacked_bytes=max_unpacked, max_files=max_files)
    with tempfile.TemporaryDirectory() as tmp:
        archive, into = Path(tmp) / "push.archive", Path(tmp) / "export"
        into.mkdir()
        _archive(kind, content, archive)
        within = len(content) <= max_files and sum(map(len, content.values())) <= max_unpacked
        unpack = unpack_zip if kind == "zip" else unpack_tar
        if within:
            assert unpack(archive, into, limits) == sum(map(len, content.values()))
            assert {p.name: p.read_bytes() for p in into.iterdir()} == content
        else:
            with pytest.raises(Refused) as refused:
                unpack(archive, into, limits)
            assert refused.value.status == 413
            if "XUNCHA_PUSH_MAX_FILES" in refused.value.message:     # the bound it names is the one passed
                assert len(content) > max_files and str(max_files) in refused.value.message
            else:
                assert "XUNCHA_PUSH_MAX_UNPACKED_BYTES" in refused.value.message
                assert sum(map(len, content.values())) > max_unpacked and str(max_unpacked) in refused.value.message
            written = list(into.iterdir())
            assert sum(p.stat().st_size for p in written) <= max_unpacked
            assert all(p.read_bytes() == content[p.name] for p in written), "no partial file is left"
