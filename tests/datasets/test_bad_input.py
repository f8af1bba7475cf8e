"""Every bad input is refused with one line naming the problem, exit 2, nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Env, write

GOOD = "a,b,y\n1,x,0\n2,y,1\n3,x,0\n4,y,1\n5,x,0\n"


def refuse(ml: Env, path: Path, *extra: str, target: str = "y") -> str:
    result = ml.run(
        "dataset",
        "add",
        "--project",
        "p",
        "--name",
        "d",
        "--target",
        target,
        *extra,
        str(path),
        ok=False,
    )
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("error: "), message
    assert "\n" not in message, f"not one line: {message!r}"
    assert "Traceback" not in result.output
    assert ml.stored_files() == [], "a refused ingest left files behind"
    assert ml.json("dataset", "list", "p") == []
    return message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"a,b,y\n", "header but no data rows"),
        (b"\n\n\n", "no header row"),
        (
            b"a,b,y\n1,2,0\n3,\xe9,1\n",
            "not valid utf-8 (the encoding assumed) at line 3, byte 3 (0xe9)",
        ),
        (b"a,b,y\n1,2,0\n3,4\n5,6,1\n", "line 3 has 2 fields, expected 3"),
        (b"a,b,y\n1,2,0\n3,4,1,9\n5,6,1\n", "line 3 has 4 fields, expected 3"),
        (b'a,b,y\n"1,0",2,0\n3,4\n5,6,1\n', "line 3 has 2 fields, expected 3"),
        (b"a,a,y\n1,2,0\n3,4,1\n", "duplicate column name 'a' in the header (columns 1 and 2)"),
        (b"a,b,c\n1,2,0\n3,4,1\n", "target column 'y' not found; columns are: a, b, c"),
        (b"a,b,y\n1,2,0\n3,4,0\n", "target column 'y' holds the single value 0 in every row"),
        (b"a,b,y\n1,2,\n3,4,NA\n", "target column 'y' is missing in every row"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV text file: NUL byte at byte offset 8"),
    ],
    ids=[
        "empty",
        "header-only",
        "blank-lines-only",
        "undecodable",
        "short-row",
        "long-row",
        "short-row-quoted",
        "duplicate-columns",
        "missing-target",
        "constant-target",
        "empty-target",
        "binary",
    ],
)
def test_refused(ml: Env, tmp_path: Path, content: bytes, expected: str) -> None:
    path = write(tmp_path / "in.csv", content)
    message = refuse(ml, path)
    assert expected in message
    assert str(path) in message, "the error must name the file"


def test_file_over_the_upload_limit(ml: Env, tmp_path: Path) -> None:
    path = write(tmp_path / "big.csv", "a,y\n" + "1,0\n2,1\n" * 40_000)
    ml.env["MODELLAB_MAX_UPLOAD_MB"] = "0.1"
    message = refuse(ml, path)
    assert "over the upload limit of 0 MB" in message or "over the upload limit" in message
    assert "MODELLAB_MAX_UPLOAD_MB" in message


def test_missing_file(ml: Env, tmp_path: Path) -> None:
    assert "no such file" in refuse(ml, tmp_path / "nope.csv")


def test_regression_on_text_target(ml: Env, tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "a,y\n1,x\n2,z\n3,x\n")
    assert "not numeric" in refuse(ml, path, "--task", "regression")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--split", "time"), "--split time needs --time-column"),
        (("--split", "group"), "--split group needs --group-column"),
        (("--split", "time", "--time-column", "zz"), "--time-column 'zz' is not a column"),
        (("--split", "time", "--time-column", "b"), "holds String values, not dates"),
        (("--test-size", "1.5"), "--test-size must be between 0 and 1"),
        (("--split", "predefined"), "train.* and test.* files"),
    ],
)
def test_bad_split_options(ml: Env, tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    path = write(tmp_path / "in.csv", GOOD)
    assert expected in refuse(ml, path, *args)


def test_stratified_needs_two_rows_per_class(ml: Env, tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "a,y\n1,x\n2,x\n3,z\n4,x\n")
    assert "class 'z' has 1" in refuse(ml, path, "--split", "stratified")


def test_invalid_dataset_name(ml: Env, tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", GOOD)
    result = ml.run("dataset", "add", "-p", "p", "-n", "../x", "-t", "y", str(path), ok=False)
    assert result.exit_code == 2
    assert "invalid dataset name '../x'" in result.stderr
    assert ml.stored_files() == []


def test_unknown_project(ml: Env, tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", GOOD)
    result = ml.run("dataset", "add", "-p", "nope", "-n", "d", "-t", "y", str(path), ok=False)
    assert result.exit_code == 2
    assert "no project 'nope'" in result.stderr


def test_folder_with_other_files(ml: Env, tmp_path: Path) -> None:
    write(tmp_path / "f" / "a.csv", GOOD)
    write(tmp_path / "f" / "notes.txt", "hello")
    assert "neither CSV nor Parquet: notes.txt" in refuse(ml, tmp_path / "f")


def test_folder_files_with_different_columns(ml: Env, tmp_path: Path) -> None:
    write(tmp_path / "f" / "a.csv", GOOD)
    write(tmp_path / "f" / "b.csv", "a,c,y\n1,2,0\n")
    message = refuse(ml, tmp_path / "f")
    assert "b.csv" in message and "missing: ['b']" in message


def test_bad_row_in_a_folder_names_the_file(ml: Env, tmp_path: Path) -> None:
    write(tmp_path / "f" / "train.csv", GOOD)
    write(tmp_path / "f" / "test.csv", "a,b,y\n1,x\n")
    message = refuse(ml, tmp_path / "f")
    assert "test.csv: line 2 has 2 fields, expected 3" in message


def test_corrupt_parquet(ml: Env, tmp_path: Path) -> None:
    path = write(tmp_path / "x.parquet", b"PAR1 this is not parquet")
    assert "not a readable Parquet file" in refuse(ml, path)
