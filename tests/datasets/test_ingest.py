"""Adding dataset versions: storage layout, versioning, folders, notes and show."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl

from modellab.datasets.splits import load_split
from tests.conftest import Env, write


def make_csv(path: Path, n: int = 200, seed: int = 0, extra: bool = False) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pl.DataFrame(
        {
            "row_id": np.arange(n),
            "x": [None if m else v for m, v in zip(rng.random(n) < 0.1, x.tolist(), strict=True)],
            "color": rng.choice(["red", "green", "blue"], size=n),
            "y": np.where(x + rng.normal(scale=0.5, size=n) > 0, "yes", "no"),
        }
    )
    if extra:
        frame = frame.with_columns(pl.Series("z", rng.normal(size=n)))
    frame.write_csv(path)
    return path


def add(ml: Env, path: Path, *extra: str, name: str = "d") -> dict:  # type: ignore[type-arg]
    return ml.json("dataset", "add", "-p", "p", "-n", name, "-t", "y", *extra, str(path))  # type: ignore[no-any-return]


def test_add_stores_original_parquet_and_split(ml: Env, tmp_path: Path) -> None:
    path = make_csv(tmp_path / "data.csv")
    out = add(ml, path)
    for key in ("id", "project", "name", "version", "checksum", "rows", "columns", "task"):
        assert key in out
    assert (out["project"], out["name"], out["version"], out["task"]) == (
        "p",
        "d",
        1,
        "classification",
    )
    assert out["checksum"] == hashlib.sha256(path.read_bytes()).hexdigest()
    folder = ml.artifacts / "p" / "datasets" / out["checksum"]
    originals = list((folder / "source").iterdir())
    assert [f.read_bytes() for f in originals] == [path.read_bytes()]
    stored = pl.read_parquet(folder / "data.parquet")
    assert stored.equals(pl.read_csv(path))
    split = load_split(folder / "splits" / f"{out['split']['checksum']}.npz")
    assert len(split.train) + len(split.test) == 200
    assert not set(split.train) & set(split.test)
    # identifier-like row numbers are left out of the default features
    assert out["feature_columns"] == ["x", "color"]
    assert any("'row_id' looks like an identifier" in w for w in out["warnings"])
    # nothing is left in staging
    assert not [p for p in (ml.artifacts / "p" / "datasets").iterdir() if p.name.startswith(".")]


def test_same_bytes_same_version_new_bytes_next_version(ml: Env, tmp_path: Path) -> None:
    first = add(ml, make_csv(tmp_path / "a.csv"))
    again = add(ml, make_csv(tmp_path / "copy.csv"))
    assert again["id"] == first["id"] and again["created"] is False
    second = add(ml, make_csv(tmp_path / "b.csv", seed=1, extra=True))
    assert second["version"] == 2 and second["created"] is True
    shown = ml.json("dataset", "show", "p/d@2")
    assert shown["schema_diff"] == {
        "against_version": 1,
        "added": ["z"],
        "removed": [],
        "changed": [],
    }
    assert ml.json("dataset", "show", "p/d")["version"] == 2
    assert [v["version"] for v in ml.json("dataset", "list", "p")] == [1, 2]


def test_same_bytes_other_split_is_refused(ml: Env, tmp_path: Path) -> None:
    path = make_csv(tmp_path / "a.csv")
    add(ml, path)
    result = ml.run(
        "dataset", "add", "-p", "p", "-n", "d", "-t", "y", "--seed", "3", str(path), ok=False
    )
    assert result.exit_code == 2
    assert (
        "p/d@1 already holds these bytes with split random (test size 0.2, seed 0)" in result.stderr
    )
    # the same bytes under another name may split differently, sharing the stored bytes
    other = add(ml, path, "--seed", "3", name="d2")
    assert other["checksum"] == add(ml, path)["checksum"]
    splits = list((ml.artifacts / "p" / "datasets" / other["checksum"] / "splits").iterdir())
    assert len(splits) == 2


def test_missing_target_rows_are_dropped_with_a_warning(ml: Env, tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.csv",
        "a,y\n" + "".join(f"{i % 9},{i % 2 if i % 7 else ''}\n" for i in range(50)),
    )
    out = add(ml, path)
    assert out["rows"] == 50
    assert out["split"]["train_rows"] + out["split"]["test_rows"] == 50 - 8
    assert any("8 rows whose target 'y' is missing" in w for w in out["warnings"])


def test_empty_header_gets_a_generated_name(ml: Env, tmp_path: Path) -> None:
    path = tmp_path / "pandas.csv"
    body = "".join(f"{i},{i * 1.5},{'a' if i % 3 else 'b'}\n" for i in range(40))
    write(path, ",x,y\n" + body)
    out = add(ml, path)
    shown = ml.json("dataset", "show", "p/d")
    assert shown["schema"][0]["name"] == "unnamed_0"
    assert shown["schema"][0]["logical_type"] == "identifier"
    assert "unnamed_0" not in out["feature_columns"]
    assert any("empty header" in w for w in out["warnings"])


def test_parquet_file(ml: Env, tmp_path: Path) -> None:
    csv = make_csv(tmp_path / "a.csv")
    pq = tmp_path / "a.parquet"
    pl.read_csv(csv).write_parquet(pq)
    out = add(ml, pq)
    assert out["rows"] == 200 and out["checksum"] == hashlib.sha256(pq.read_bytes()).hexdigest()


def test_folder_checksum_and_concatenation(ml: Env, tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    make_csv(folder / "part1.csv", n=100, seed=1)
    make_csv(folder / "part2.csv", n=100, seed=2)
    write(folder / ".DS_Store", b"\x00junk")  # hidden files are not data
    out = add(ml, folder)
    pairs = sorted(
        (p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in folder.glob("*.csv")
    )
    expected = hashlib.sha256("".join(f"{n}\x00{h}\n" for n, h in pairs).encode()).hexdigest()
    assert out["checksum"] == expected
    assert out["rows"] == 200
    assert out["split"]["strategy"] == "random"


def test_folder_with_train_and_test_is_predefined(ml: Env, tmp_path: Path) -> None:
    folder = tmp_path / "pre"
    folder.mkdir()
    make_csv(folder / "train.csv", n=150, seed=1)
    pl.read_csv(make_csv(tmp_path / "t.csv", n=50, seed=2)).write_parquet(folder / "test.parquet")
    out = add(ml, folder)
    assert out["split"] == {
        "strategy": "predefined",
        "checksum": out["split"]["checksum"],
        "train_rows": 150,
        "test_rows": 50,
    }
    split = load_split(
        ml.artifacts
        / "p"
        / "datasets"
        / out["checksum"]
        / "splits"
        / f"{out['split']['checksum']}.npz"
    )
    assert split.train.tolist() == list(range(150)) and split.test.tolist() == list(range(150, 200))


def test_source_and_notes_are_appended_never_edited(ml: Env, tmp_path: Path) -> None:
    path = make_csv(tmp_path / "a.csv")
    ml.run(
        "dataset",
        "add",
        "-p",
        "p",
        "-n",
        "d",
        "-t",
        "y",
        "--source",
        "s3://bucket/a.csv",
        "--notes",
        "first look",
        str(path),
    )
    ml.run("dataset", "note", "p/d@1", "label noise in 2019 rows")
    shown = ml.json("dataset", "show", "p/d@1")
    assert shown["provenance"]["source"] == "s3://bucket/a.csv"
    assert [n["text"] for n in shown["notes"]] == ["first look", "label noise in 2019 rows"]
    assert all(n["created_at"] for n in shown["notes"])


def test_show_prints_a_readable_profile(ml: Env, tmp_path: Path) -> None:
    add(ml, make_csv(tmp_path / "a.csv"))
    text = ml.run("dataset", "show", "p/d@1").stdout
    for expected in (
        "p/d@1",
        "classification of 'y'",
        "Schema and profile",
        "row_id",
        "identifier",
        "Target 'y'",
        "Split: random",
        "train",
        "test",
        "Warnings",
    ):
        assert expected in text, expected


def test_unknown_version(ml: Env) -> None:
    result = ml.run("dataset", "show", "p/nope@3", ok=False)
    assert result.exit_code == 2 and "no dataset version p/nope@3" in result.stderr


def test_regression_task_is_inferred(ml: Env, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pl.DataFrame({"x": rng.normal(size=100), "y": rng.normal(size=100) * 3.3}).write_csv(
        tmp_path / "r.csv"
    )
    out = add(ml, tmp_path / "r.csv")
    assert out["task"] == "regression"
    shown = ml.json("dataset", "show", "p/d")
    assert shown["profile"]["target"]["distribution"]["histogram"]["counts"]


def test_a_tiny_test_split_is_warned_about(ml: Env, tmp_path: Path) -> None:
    tiny = add(ml, write(tmp_path / "tiny.csv", "a,y\n1,0\n2,1\n3,0\n4,1\n5,0\n"))
    assert any("the test split has only" in w for w in tiny["warnings"])
    ample = add(
        ml,
        write(tmp_path / "ample.csv", "a,y\n" + "".join(f"{i % 13},{i % 2}\n" for i in range(200))),
        name="ample",
    )
    assert not any("test split" in w for w in ample["warnings"])


def test_a_train_split_with_one_class_is_refused(ml: Env, tmp_path: Path) -> None:
    # Time order puts every 'b' in the test split: the train split has one class.
    rows = "".join(f"2026-01-{i + 1:02d},{i},{'a' if i < 24 else 'b'}\n" for i in range(30))
    path = write(tmp_path / "one.csv", "t,a,y\n" + rows)
    result = ml.run(
        "dataset",
        "add",
        "-p",
        "p",
        "-n",
        "one",
        "-t",
        "y",
        "--split",
        "time",
        "--time-column",
        "t",
        str(path),
        ok=False,
    )
    assert result.exit_code == 2
    assert "train split of target 'y' holds only one class, 'a'" in result.stderr
    assert ml.stored_files() == []


def test_a_file_without_a_header_row_is_warned_about(ml: Env, tmp_path: Path) -> None:
    body = "".join(f"{i},{i * 2 % 11},{i % 2}\n" for i in range(60))
    out = ml.json(
        "dataset",
        "add",
        "-p",
        "p",
        "-n",
        "raw",
        "-t",
        "1",
        str(write(tmp_path / "raw.csv", "5,10,1\n" + body)),
    )
    assert any("does the file lack a header row" in w for w in out["warnings"])
