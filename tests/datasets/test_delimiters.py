"""Files that are not what they seem: other delimiters, and datasets left without a feature.

Penguins written with a semicolon or a tab ingests as the comma file does and trains; a
file read as one column, or whose only other columns are left out, is refused at ingest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from litestar.testing import TestClient

from modellab.datasets.reading import sniff_delimiter
from modellab.server.app import create_app
from tests.conftest import REPO, Env, write
from tests.datasets.test_bad_input import refuse
from tests.server.conftest import QueueOnly, make_settings

PENGUINS = REPO / "core" / "demo_data" / "penguins.csv"


def penguins_with(path: Path, delimiter: str) -> Path:
    """The penguins file rewritten, byte for byte the same values, with ``delimiter``."""
    pl.read_csv(PENGUINS, infer_schema=False).write_csv(path, separator=delimiter)
    return path


def add(ml: Env, path: Path, name: str, target: str = "sex") -> Any:
    return ml.json("dataset", "add", "-p", "p", "-n", name, "-t", target, str(path))


def stored_frame(ml: Env, version: dict[str, Any]) -> pl.DataFrame:
    return pl.read_parquet(ml.artifacts / "p" / "datasets" / version["checksum"] / "data.parquet")


@pytest.mark.parametrize(
    ("delimiter", "suffix", "label"),
    [
        (";", ".csv", "';' (semicolon)"),
        ("\t", ".csv", "'\\t' (tab)"),
        ("\t", ".tsv", "'\\t' (tab)"),
    ],
    ids=["semicolon", "tab-in-csv", "tsv"],
)
def test_penguins_with_another_delimiter_ingests_like_the_comma_file(
    ml: Env, tmp_path: Path, delimiter: str, suffix: str, label: str
) -> None:
    add(ml, PENGUINS, "comma")
    path = penguins_with(tmp_path / f"penguins{suffix}", delimiter)
    out = add(ml, path, "other")
    comma = ml.json("dataset", "show", "p/comma")
    other = ml.json("dataset", "show", "p/other")
    assert other["checksum"] != comma["checksum"]  # other bytes, same table
    for key in ("rows", "columns", "task", "feature_columns", "schema"):
        assert other[key] == comma[key], key
    assert out["feature_columns"] == comma["feature_columns"] != []
    assert stored_frame(ml, other).equals(stored_frame(ml, comma))
    assert comma["provenance"]["files"][0]["delimiter"] == ","
    assert other["provenance"]["files"][0]["delimiter"] == delimiter
    text = ml.run("dataset", "show", "p/other").stdout
    assert f"delimiter {label}" in text
    assert "delimiter ',' (comma)" in ml.run("dataset", "show", "p/comma").stdout


def test_a_run_trains_on_semicolon_penguins(ml: Env, tmp_path: Path) -> None:
    add(ml, penguins_with(tmp_path / "penguins.csv", ";"), "semi", target="species")
    result = ml.run(
        "run",
        *("-p", "p", "-d", "semi", "-t", "tabular-classification", "-m", "logistic_regression"),
        *("--n-bootstrap", "50", "--json"),
        ok=False,
    )
    run = json.loads(result.stdout)
    assert run["status"] == "succeeded", run.get("status_reason")
    assert run["metrics"]["headline"]["accuracy"]["value"] > 0.9


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (b"a,b,y\n1,2,0\n", ","),
        (b"a;b;y\n1,5;2,25;0\n3,5;4;1\n", ";"),  # decimal commas stay in their fields
        (b"a\tb\ty\n1\t2\t0\n", "\t"),
        (b"a|b|y\n1|2|0\n", "|"),
        (b'name,note\n"x;y;z",1\n"u;v;w",2\n', ","),  # semicolons inside quotes
        (b'"a,b";c;y\n"1,0";2;0\n"3,0";4;1\n', ";"),  # commas inside quotes
        (b'a;b;y\n"multi\nline";2;0\n3;4;1\n', ";"),  # a quoted line break
        (b"\xef\xbb\xbfa;b\n1;2\n", ";"),  # a BOM
        (b"a,b,y\n1,2,0\n3,4\n5,6,1\n", ","),  # ragged: the header's delimiter, to name the row
        (b"y\n1\n0\n", ","),  # one column: nothing to detect
        (b'"a;b;y"\n1;2;0\n', ","),  # the header is one quoted field: not detected
    ],
)
def test_the_delimiter_rule(sample: bytes, expected: str) -> None:
    assert sniff_delimiter(sample) == expected


def test_a_truncated_sample_ignores_its_cut_last_line() -> None:
    assert sniff_delimiter(b"a;b;y\n1;2;0\n3;4", truncated=True) == ";"
    assert sniff_delimiter(b"a;b;y\n1;2;0\n3;4", truncated=False) == ";"  # header decides


def test_each_file_of_a_folder_has_its_own_delimiter(ml: Env, tmp_path: Path) -> None:
    frame = pl.read_csv(PENGUINS, infer_schema=False)
    folder = tmp_path / "parts"
    folder.mkdir()
    frame.head(200).write_csv(folder / "train.csv", separator=";")
    frame.tail(144).write_csv(folder / "test.csv", separator="|")
    add(ml, folder, "parts")
    shown = ml.json("dataset", "show", "p/parts")
    delimiters = {f["path"]: f["delimiter"] for f in shown["provenance"]["files"]}
    assert delimiters == {"train.csv": ";", "test.csv": "|"}
    assert shown["rows"] == 344 and shown["split"]["strategy"] == "predefined"
    text = ml.run("dataset", "show", "p/parts").stdout
    assert "test.csv '|' (pipe)" in text and "train.csv ';' (semicolon)" in text


def test_parquet_has_no_delimiter(ml: Env, tmp_path: Path) -> None:
    path = tmp_path / "penguins.parquet"
    pl.read_csv(PENGUINS, null_values=["NA"]).write_parquet(path)
    add(ml, path, "pq")
    shown = ml.json("dataset", "show", "p/pq")
    assert shown["provenance"]["files"][0]["delimiter"] is None
    assert "delimiter" not in ml.run("dataset", "show", "p/pq").stdout


# --- refused: no usable feature --------------------------------------------------------


def test_a_one_column_file_is_refused(ml: Env, tmp_path: Path) -> None:
    path = write(tmp_path / "one.csv", "y\n" + "0\n1\n" * 30)
    message = refuse(ml, path)
    assert str(path) in message
    assert "only one column was read ('y')" in message
    assert "no feature column besides a target" in message
    assert "no comma, semicolon, tab or pipe separates its fields" in message


@pytest.mark.parametrize(
    ("header", "found"),
    [('"a;b;y"', "semicolon"), ('"a\tb\ty"', "tab"), ('"a|b|y"', "pipe")],
)
def test_a_one_column_file_with_a_delimiter_in_its_header_says_so(
    ml: Env, tmp_path: Path, header: str, found: str
) -> None:
    # The whole header is quoted: the delimiter in it cannot count, so one column is read.
    raw = header.strip('"')
    sep = raw[1]
    body = "".join(f"{i}{sep}{i % 5}{sep}{i % 2}\n" for i in range(40))
    path = write(tmp_path / "quoted.csv", f"{header}\n{body}")
    message = refuse(ml, path)
    assert f"only one column was read ({raw!r})" in message
    assert f"its header holds a {found}, so the delimiter was probably not detected" in message


def test_a_dataset_whose_only_other_column_is_an_id_is_refused(ml: Env, tmp_path: Path) -> None:
    path = write(tmp_path / "ids.csv", "id,y\n" + "".join(f"{i},{i % 2}\n" for i in range(60)))
    message = refuse(ml, path)
    assert str(path) in message
    assert "no usable feature column: besides the target 'y'" in message
    assert "'id' (identifier-like: every value distinct" in message


def test_every_left_out_column_is_listed_with_its_reason(ml: Env, tmp_path: Path) -> None:
    rows = "".join(f"{i},same,{i % 2}\n" for i in range(60))
    path = write(tmp_path / "left_out.csv", "row_id,const,y\n" + rows)
    message = refuse(ml, path)
    assert "'row_id' (identifier-like" in message
    assert "'const' (constant: a single value" in message


def test_free_text_alone_is_an_input_for_the_text_template(ml: Env, tmp_path: Path) -> None:
    """A sentence per row is free text even when no two rows repeat (not a key), and a
    dataset of text and a label is added: the text template trains on it."""
    rows = "".join(
        f"{i},same,{'a long free text note number ' + str(i)},{i % 2}\n" for i in range(60)
    )
    path = write(tmp_path / "notes.csv", "row_id,const,note,y\n" + rows)
    ml.run("dataset", "add", "-p", "p", "-n", "notes", "-t", "y", str(path))
    schema = ml.json("dataset", "show", "p/notes")["schema"]
    roles = {c["name"]: (c["role"], c["logical_type"]) for c in schema}
    assert roles["note"] == ("text", "text")
    assert roles["row_id"][0] == "identifier" and roles["const"][0] == "excluded"


def test_a_group_column_as_the_only_feature_is_refused(ml: Env, tmp_path: Path) -> None:
    path = write(tmp_path / "g.csv", "g,y\n" + "".join(f"{i % 7},{i % 2}\n" for i in range(60)))
    message = refuse(ml, path, "--split", "group", "--group-column", "g")
    assert "'g' (the group column of the split)" in message


# --- the API says the same, with a 4xx ---------------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient[Any]]:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'modellab.db'}")
    with TestClient(app=create_app(settings, executor=QueueOnly), base_url="http://127.0.0.1") as c:
        assert c.post("/api/projects", json={"name": "p"}).status_code == 201
        yield c


def _upload(client: TestClient[Any], name: str, content: bytes, target: str = "y") -> Any:
    return client.post(
        "/api/projects/p/datasets",
        files={"file": (name, content, "text/csv")},
        data={"name": "d", "target": target},
    )


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        (
            "ids.csv",
            b"id,y\n" + b"".join(f"{i},{i % 2}\n".encode() for i in range(60)),
            "ids.csv: no usable feature column: besides the target 'y', every column is left "
            "out of the default feature set: 'id' (identifier-like",
        ),
        (
            "quoted.csv",
            b'"a;b;y"\n' + b"1;2;0\n3;4;1\n" * 20,
            "quoted.csv: only one column was read ('a;b;y'), which leaves no feature column "
            "besides a target; its header holds a semicolon, so the delimiter was probably "
            "not detected",
        ),
        (
            "picture.csv",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "picture.csv: not a CSV text file: NUL byte at byte offset 8",
        ),
    ],
    ids=["id-only", "one-column", "png"],
)
def test_the_api_refuses_with_a_4xx_and_the_same_words(
    client: TestClient[Any], name: str, content: bytes, words: str
) -> None:
    response = _upload(client, name, content)
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/invalid-input")
    assert words in response.json()["detail"]
    assert client.get("/api/projects/p/datasets").json() == []


def test_the_api_reports_the_delimiter(client: TestClient[Any], tmp_path: Path) -> None:
    path = penguins_with(tmp_path / "penguins.csv", ";")
    response = _upload(client, "penguins.csv", path.read_bytes(), target="sex")
    assert response.status_code == 201, response.text
    assert response.json()["provenance"]["files"][0]["delimiter"] == ";"
    shown = client.get("/api/projects/p/datasets/d").json()
    assert shown["provenance"]["files"][0]["delimiter"] == ";"
    assert len(shown["feature_columns"]) == 7
