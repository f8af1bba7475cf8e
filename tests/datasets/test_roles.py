"""Column roles: chosen with --role (or the API's ``roles``), inferred otherwise, recorded.

A query id must never silently become a feature or be dropped as an identifier: the
user's role wins, is kept in the schema and the provenance, and the same bytes with
other roles are another request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Env, write


def queries_csv(folder: Path) -> Path:
    """Search results: a query id (repeated), a document id (unique), text, a weight."""
    rows = [
        f"q{i // 5},doc{i},{i % 5},{(i * 3) % 7},some words of title {i % 30},{1 + i % 2}"
        for i in range(100)
    ]
    header = "qid,doc_id,rank,score,title,weight\n"
    return write(folder / "queries.csv", header + "\n".join(rows) + "\n")


def roles_of(version: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["role"] for c in version["schema"]}


def add(ml: Env, name: str, *args: str) -> dict[str, Any]:
    """``dataset add`` of the queries file as ``name``; the stored version, in full."""
    path = queries_csv(ml.home.parent)
    ml.run("dataset", "add", "-p", "p", "-n", name, "-t", "score", *args, str(path))
    shown: dict[str, Any] = ml.json("dataset", "show", f"p/{name}")
    return shown


def test_roles_are_inferred_and_chosen_roles_win(ml: Env) -> None:
    inferred = add(ml, "q")
    got = roles_of(inferred)
    assert got["score"] == "target"
    assert got["doc_id"] == "identifier"  # every value distinct: a key, not a feature
    assert got["title"] == "text"
    assert "doc_id" not in inferred["feature_columns"]
    chosen = add(
        ml, "q2",
        "--role", "qid=group", "--role", "doc_id=item", "--role", "weight=weight",
        "--role", "rank=feature",
    )  # fmt: skip
    got = roles_of(chosen)
    assert (got["qid"], got["doc_id"], got["weight"], got["rank"]) == (
        "group",
        "item",
        "weight",
        "feature",
    )
    assert chosen["feature_columns"] == ["rank"]
    assert chosen["provenance"]["roles"] == {
        "doc_id": "item",
        "qid": "group",
        "rank": "feature",
        "weight": "weight",
    }
    reasons = {c["name"]: c["excluded_reason"] for c in chosen["schema"]}
    assert reasons["qid"] == "the group a row belongs to (--role)"


def test_an_identifier_the_user_calls_a_feature_is_one(ml: Env) -> None:
    version = add(ml, "q", "--role", "doc_id=feature")
    assert "doc_id" in version["feature_columns"]


def test_the_split_group_column_is_a_group(ml: Env) -> None:
    version = add(ml, "q", "--split", "group", "--group-column", "qid")
    assert roles_of(version)["qid"] == "group"
    assert "qid" not in version["feature_columns"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "qid=query"], "--role 'qid=query': unknown role 'query'; roles are feature, "),
        (["--role", "qid"], "--role expects COLUMN=ROLE, got 'qid'"),
        (["--role", "nope=group"], "--role names 'nope', which is not a column; columns are: qid"),
        (["--role", "score=feature"], "--role names the target 'score'"),
        (["--role", "rank=target"], "--role 'rank=target': the target is chosen with --target"),
        (["--role", "qid=group", "--exclude", "qid"], "'qid' has --role group and --exclude"),
        (
            ["--split", "group", "--group-column", "qid", "--role", "qid=feature"],
            "'qid' is the split's --group-column, so its role is group, not feature",
        ),
        (["--role", "qid=group", "--role", "qid=item"], "--role gives column 'qid' two roles"),
    ],
)
def test_bad_roles_are_refused_by_name(ml: Env, args: list[str], message: str) -> None:
    path = queries_csv(ml.home.parent)
    result = ml.run(
        "dataset", "add", "-p", "p", "-n", "q", "-t", "score", *args, str(path), ok=False
    )
    assert result.exit_code != 0
    assert message in result.output
    assert ml.json("dataset", "list", "p") == []


def test_the_same_bytes_with_other_roles_are_another_request(ml: Env) -> None:
    path = queries_csv(ml.home.parent)
    ml.run("dataset", "add", "-p", "p", "-n", "q", "-t", "score", "--role", "qid=group", str(path))
    again = ml.run("dataset", "add", "-p", "p", "-n", "q", "-t", "score", str(path), ok=False)
    assert again.exit_code != 0
    assert "other column roles (qid=group)" in again.output
