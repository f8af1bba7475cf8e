"""A repro pack is untrusted input: ``modellab reproduce`` keeps every path inside it.

Each class of bad pack is built by hand: members and manifest entries that point out of
the pack (``..``, absolute paths, links, devices, NUL, over-long and duplicate names),
and malformed packs (not an archive, truncated, no or broken manifest, wrong shapes and
types, missing files, checksum mismatches). Every one is refused on one line with a
non-zero exit code, naming the bad entry, never with an internal error, and never
reading, hashing or printing a file outside the pack.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import Env

SECRET = b"root:x:0:0:the content of a file outside the pack\n"
DATA = b"a,b,y\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n"

#: the files of a small pack besides its manifest, by member name
FILES = {
    "run.json": b'{"run": {}}\n',
    "config.json": b"{}\n",
    "data/train.csv": DATA,
    "eval/metrics.json": b'{"metrics": {}}\n',
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(files: dict[str, bytes] = FILES) -> dict[str, Any]:
    """A well-formed manifest of ``files`` (the dataset is not included)."""
    return {
        "pack_version": 1,
        "run": {
            "id": "01900000-0000-7000-8000-000000000000",
            "run_key": "k",
            "project": "p",
            "template": "tabular-classification",
            "model": "most_frequent",
            "seed": 0,
            "config": {},
            "options": {},
            "n_bootstrap": 50,
        },
        "code_version": {"modellab_version": "0.1.0", "git_commit": "abc", "git_dirty": False},
        "dataset": {
            "name": "d",
            "version": 1,
            "ref": "p/d@1",
            "checksum": _sha(DATA),
            "target": "y",
            "task": "classification",
            "kind": "file",
            "source": None,
            "files": [{"path": "train.csv", "sha256": _sha(DATA), "bytes": len(DATA)}],
            "included": False,
            "split": {
                "strategy": "random",
                "test_size": 0.2,
                "seed": 0,
                "time_column": None,
                "group_column": None,
                "checksum": "0" * 64,
            },
        },
        "metrics": {"headline": {"accuracy": {"value": 0.5}}},
        "commands": {"dataset": "add it with modellab dataset add"},
        "files": {name: _sha(data) for name, data in sorted(files.items())},
    }


def _info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, link: str = "") -> Any:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname, info.mode = size, kind, link, 0o644
    if "\x00" in name:
        info.pax_headers = {"path": name}  # only a PAX record carries a NUL to the reader
    return info


def pack(
    path: Path,
    doc: dict[str, Any] | bytes | None = None,
    files: dict[str, bytes] = FILES,
    extra: tuple[tuple[tarfile.TarInfo, bytes], ...] = (),
    with_manifest: bool = True,
) -> Path:
    """Write a pack of ``files``, ``doc`` as manifest.json (None: a sound one), ``extra``."""
    entries = dict(files)
    if with_manifest:
        raw = manifest(files) if doc is None else doc
        entries["manifest.json"] = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, data in entries.items():
            tar.addfile(_info(name, len(data)), io.BytesIO(data))
        for info, data in extra:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside every pack whose bytes must never be read, hashed or shown."""
    path = tmp_path / "outside" / "secret.csv"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


def _from_temp(target: Path) -> str:
    """``target`` relative to the folder reproduce extracts into (one below the temp dir)."""
    return "../" + os.path.relpath(target, tempfile.gettempdir())


def refused(ml: Env, path: Path, *words: str, secret: Path | None = None) -> Result:
    """``modellab reproduce PATH`` fails on one line holding ``words``, and nothing leaks."""
    result = ml.run("reproduce", str(path), ok=False)
    out = result.stdout + result.stderr
    assert result.exit_code not in (0, None), out
    assert "internal error" not in out and "Traceback" not in out, out
    assert result.stdout == "", out
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out
    for word in words:
        assert word in lines[0], (word, out)
    if secret is not None:
        assert _sha(SECRET) not in out and "root:x" not in out, out
    assert "modellab-repro-" not in out, "a message names this machine's temp folder"
    return result


# --- members that leave the pack ------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "words"),
    [
        (_info("../escape.txt", 2), ["'../escape.txt'", "'..' part"]),
        (_info("data/../../escape.txt", 2), ["'data/../../escape.txt'", "'..' part"]),
        (_info("/tmp/escape.txt", 2), ["'/tmp/escape.txt'", "absolute path"]),
        (_info("C:/escape.txt", 2), ["'C:/escape.txt'", "absolute path"]),
        (_info("data\\..\\..\\escape.txt", 2), ["backslash"]),
        (_info("data/link", kind=tarfile.SYMTYPE, link="/etc/passwd"), ["symbolic link"]),
        (_info("data/inside", kind=tarfile.SYMTYPE, link="train.csv"), ["symbolic link"]),
        (_info("data/hard", kind=tarfile.LNKTYPE, link="run.json"), ["hard link"]),
        (_info("data/dev", kind=tarfile.CHRTYPE), ["device file"]),
        (_info("data/blk", kind=tarfile.BLKTYPE), ["device file"]),
        (_info("data/fifo", kind=tarfile.FIFOTYPE), ["FIFO"]),
        (_info("data/a\x00b.csv", 2), [r"'data/a\x00b.csv'", "NUL"]),
        (_info("data/a\nb.csv", 2), [r"'data/a\nb.csv'", "control character"]),
        (_info("data/" + "x" * 300, 2), ["longer than a file system keeps", "..."]),
        (_info("/".join(["y" * 150] * 8), 2), ["longer than a file system keeps"]),
        (_info("run.json", 2), ["'run.json'", "twice"]),
        (_info("RUN.json", 2), ["'RUN.json'", "twice"]),
        (_info("run.json/x", 2), ["'run.json'", "a file and a folder"]),
        (_info("data//x.csv", 2), ["empty or '.' part"]),
        (_info("./data/x.csv", 2), ["empty or '.' part"]),
    ],
    ids=[
        "parent",
        "nested-parent",
        "absolute",
        "drive",
        "backslash",
        "symlink-out",
        "symlink-in",
        "hardlink",
        "char-device",
        "block-device",
        "fifo",
        "nul",
        "newline",
        "long-part",
        "long-path",
        "duplicate",
        "duplicate-by-case",
        "file-and-folder",
        "empty-part",
        "dot-part",
    ],
)
def test_members_that_leave_the_pack_are_refused_by_name(
    ml: Env, tmp_path: Path, member: tarfile.TarInfo, words: list[str]
) -> None:
    bad = pack(tmp_path / "bad.tar.gz", extra=((member, b"{}"[: member.size]),))
    refused(ml, bad, "is refused", *words)
    assert not (Path(tempfile.gettempdir()) / "escape.txt").exists()
    assert not (tmp_path / "escape.txt").exists()
    assert ml.run("runs", "-p", "p", "--json").stdout.strip() == "[]"


def test_a_member_the_manifest_does_not_list_is_refused(ml: Env, tmp_path: Path) -> None:
    # A folder dataset is added whole: an unchecked file could slip into it.
    bad = pack(tmp_path / "bad.tar.gz", extra=((_info("data/extra.csv", 4), b"a,b\n"),))
    refused(ml, bad, "'data/extra.csv'", "does not list")


# --- manifest entries that leave the pack ---------------------------------------------


def test_manifest_files_outside_the_pack_are_never_read(
    ml: Env, tmp_path: Path, secret: Path
) -> None:
    for name in (
        _from_temp(secret),
        "../../../../../../../.." + str(secret),
        str(secret),
        "data/../../" + secret.name,
        "data/x\x00.csv",
        "..\\secret.csv",
    ):
        doc = manifest()
        doc["files"][name] = _sha(SECRET)
        bad = pack(tmp_path / "bad.tar.gz", doc)
        result = refused(ml, bad, "manifest file", "is refused", secret=secret)
        assert repr(name[:80]) in result.stderr


def test_dataset_files_outside_the_pack_are_never_read(
    ml: Env, tmp_path: Path, secret: Path
) -> None:
    for name in ("../" + _from_temp(secret), str(secret), "../../secret.csv", "a/./b.csv"):
        doc = manifest()
        doc["dataset"]["included"] = True
        doc["dataset"]["files"][0]["path"] = name
        bad = pack(tmp_path / "bad.tar.gz", doc)
        result = refused(ml, bad, "dataset file", "is refused", secret=secret)
        assert repr(name[:80]) in result.stderr
    # A file name the manifest gives no checksum for is refused too.
    doc = manifest()
    doc["dataset"]["included"] = True
    doc["dataset"]["files"][0]["path"] = "other.csv"
    refused(ml, pack(tmp_path / "bad.tar.gz", doc), "'other.csv'", "no checksum")


# --- malformed packs ------------------------------------------------------------------


def test_what_is_not_a_pack_archive_is_refused(ml: Env, tmp_path: Path) -> None:
    good = pack(tmp_path / "good.tar.gz").read_bytes()
    plain_tar = io.BytesIO()
    with tarfile.open(fileobj=plain_tar, mode="w") as tar:
        tar.addfile(_info("manifest.json", 2), io.BytesIO(b"{}"))
    candidates = {
        "empty.tar.gz": b"",
        "text.tar.gz": b"just some text\n",
        "random.tar.gz": os.urandom(4096),
        "zip.tar.gz": b"PK\x03\x04" + bytes(100),
        "plain.tar": plain_tar.getvalue(),
        "gzip-of-text.tar.gz": gzip.compress(b"not a tar archive at all\n" * 50),
        "truncated.tar.gz": good[: len(good) // 2],
        "cut-short.tar.gz": good[:30],
        "corrupt.tar.gz": good[:40] + bytes(len(good) - 80) + good[-40:],
    }
    for name, data in candidates.items():
        path = tmp_path / name
        path.write_bytes(data)
        refused(ml, path, str(path), "not a readable repro pack")
    folder = tmp_path / "folder.tar.gz"
    folder.mkdir()
    refused(ml, folder, "no such file")
    refused(ml, tmp_path / "absent.tar.gz", "no such file")


def test_a_missing_or_broken_manifest_is_refused(ml: Env, tmp_path: Path) -> None:
    refused(ml, pack(tmp_path / "none.tar.gz", with_manifest=False), "no manifest.json")
    for raw, words in (
        (b"{not json", ["manifest.json is not JSON"]),
        (b"", ["manifest.json is not JSON"]),
        (b"\xff\xfe{}", ["not UTF-8"]),
        (b"[" * 100_000 + b"]" * 100_000, ["nested too deeply"]),
    ):
        refused(ml, pack(tmp_path / "bad.tar.gz", raw), *words)


def _with(path: list[str | int], value: Any) -> dict[str, Any]:
    """A manifest with the field at ``path`` set to ``value`` (``...``: removed)."""
    doc = copy.deepcopy(manifest())
    parent: Any = doc
    for key in path[:-1]:
        parent = parent[key]
    if value is ...:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ([], ["Expected `object`, got `array`"]),
        ("a string", ["Expected `object`, got `str`"]),
        (None, ["Expected `object`, got `null`"]),
        ({}, ["missing required field"]),
        (_with(["run"], ...), ["missing required field `run`"]),
        (_with(["files"], ...), ["missing required field `files`"]),
        (_with(["dataset", "split"], ...), ["`split`", "$.dataset"]),
        (_with(["run", "seed"], "zero"), ["Expected `int`, got `str`", "$.run.seed"]),
        (_with(["run", "seed"], 2**40), ["$.run.seed"]),
        (_with(["run", "n_bootstrap"], 1.5), ["$.run.n_bootstrap"]),
        (_with(["run", "config"], [1, 2]), ["$.run.config"]),
        (_with(["files"], ["run.json"]), ["$.files"]),
        (_with(["files", "run.json"], 7), ["$.files"]),
        (_with(["files", "run.json"], "not-a-checksum"), ["$.files"]),
        (_with(["dataset", "included"], "yes"), ["$.dataset.included"]),
        (_with(["dataset", "files"], {"path": "x"}), ["$.dataset.files"]),
        (_with(["dataset", "files", 0, "path"], 3), ["$.dataset.files[0].path"]),
        (_with(["dataset", "kind"], "../x"), ["$.dataset.kind"]),
        (_with(["dataset", "split", "strategy"], "sideways"), ["$.dataset.split.strategy"]),
        (_with(["dataset", "checksum"], "\x1b[2J"), ["$.dataset.checksum"]),
        (_with(["run", "project"], "p\x1b[31m"), ["$.run.project"]),
        (_with(["metrics"], 3), ["$.metrics"]),
        (_with(["pack_version"], 99), ["pack version 99"]),
    ],
)
def test_a_manifest_of_the_wrong_shape_or_types_is_refused(
    ml: Env, tmp_path: Path, doc: Any, words: list[str]
) -> None:
    raw = json.dumps(doc).encode()
    result = refused(ml, pack(tmp_path / "bad.tar.gz", raw), *words)
    assert "\x1b" not in result.stderr


def test_deeply_nested_metrics_are_refused(ml: Env, tmp_path: Path) -> None:
    deep: Any = 0.5
    for _ in range(900):
        deep = {"m": deep}
    refused(ml, pack(tmp_path / "bad.tar.gz", _with(["metrics"], deep)), "nest over 32")


def test_missing_and_tampered_files_are_refused_by_name(ml: Env, tmp_path: Path) -> None:
    doc = manifest()
    doc["files"]["eval/slices.json"] = _sha(b"{}")
    refused(ml, pack(tmp_path / "missing.tar.gz", doc), "'eval/slices.json'", "does not hold")
    tampered = dict(FILES) | {"eval/metrics.json": b'{"metrics": {"accuracy": 1.0}}\n'}
    result = refused(
        ml,
        pack(tmp_path / "tampered.tar.gz", manifest(), files=tampered),
        "file checksum mismatch: eval/metrics.json has sha256",
    )
    assert result.exit_code == 1
    data = dict(FILES) | {"data/train.csv": DATA + b"9,9,x\n"}
    refused(
        ml,
        pack(tmp_path / "data.tar.gz", manifest(), files=data),
        "dataset checksum mismatch: data/train.csv",
    )


def test_a_well_formed_pack_gets_past_every_check(ml: Env, tmp_path: Path) -> None:
    # The hand-made pack is sound: it stops only because project p lacks its dataset.
    result = refused(ml, pack(tmp_path / "good.tar.gz"), "p/d holds no version")
    assert "add it with modellab dataset add" in result.stderr
    # Folders archived as entries of their own are fine.
    folders = (
        (_info("data", kind=tarfile.DIRTYPE), b""),
        (_info("eval/", kind=tarfile.DIRTYPE), b""),
    )
    refused(ml, pack(tmp_path / "dirs.tar.gz", extra=folders), "p/d holds no version")
