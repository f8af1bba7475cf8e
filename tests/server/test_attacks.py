"""The attacks the suite tries; each gets a clean refusal and changes nothing.

Path traversal on every path-taking endpoint, markup and spreadsheet formulas in
everything a user names or writes, mass assignment, oversized and malformed bodies, and
forged, replayed or expired credentials. Cross-site POSTs and the walk over every route
live in ``test_access.py`` and ``test_magic_link.py``; attacks on access (Host header,
secrets in logs, sign-in, token scope) in ``test_attacks_access.py``; faults (dead
workers, full disks, crash leftovers, racing uploads) in ``test_faults.py``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from modellab.access.users import User, ensure_user
from modellab.cli import cli
from modellab.server.auth.sessions import COOKIE, create_session
from modellab.store.database import open_database
from modellab.store.models import Base, SessionRow, utcnow
from tests.server.conftest import PENGUINS, Api
from tests.server.test_access import As, signed_in, tracked_body  # noqa: F401  (a fixture)

Signed = tuple[Api, As, As]


def _snapshot(api: Api) -> tuple[dict[str, int], list[str]]:
    """Row counts of every table, and every file under the test's folder."""

    async def counts() -> dict[str, int]:
        async with open_database(api.settings.database_url) as db, db.session() as s:
            return {
                t.name: int((await s.execute(select(func.count()).select_from(t))).scalar_one())
                for t in Base.metadata.sorted_tables
            }

    root = api.settings.home.parent
    files = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "modellab.db" not in p.name
    )
    return asyncio.run(counts()), files


def _refused(response: Any, *statuses: int) -> dict[str, Any]:
    """A clean refusal: an expected status and a problem document, never a traceback."""
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in response.text
    problem: dict[str, Any] = response.json()
    assert problem["status"] == response.status_code and problem["detail"]
    return problem


# --- path traversal -------------------------------------------------------------------

#: paths as they appear in a URL: dot segments, encoded separators, NUL, absolute
URL_PATHS = [
    "../run.json",
    "../../../../etc/passwd",
    "eval/../../x",
    "%2e%2e/run.json",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%2f..%2frun.json",
    "..%5c..%5crun.json",
    "%252e%252e%252frun.json",
    "..\\..\\run.json",
    "/etc/passwd",
    "//etc/passwd",
    "config.json%00.png",
]

#: names as they appear in a form field or an archive member
NAMES = [
    "../escape.txt",
    "../../escape.txt",
    "a/../../escape.txt",
    "/tmp/escape.txt",
    "..\\escape.txt",
    "a\\..\\..\\escape.txt",
    "nul\x00.txt",
    "..",
    "",
]


def test_traversal_in_artifact_paths_finds_nothing(signed_in: Signed) -> None:  # noqa: F811
    api, alice, _ = signed_in
    run_id = alice.track("a")
    before = _snapshot(api)
    for path in URL_PATHS:
        response = alice.call("GET", f"/api/runs/{run_id}/artifacts/{path}")
        # Routing may already refuse some (404 or 400); none may reach a file.
        _refused(response, 400, 404)
        assert "root:" not in response.text
    assert _snapshot(api) == before


def test_traversal_in_ids_and_slugs_finds_nothing(signed_in: Signed) -> None:  # noqa: F811
    api, alice, _ = signed_in
    before = _snapshot(api)
    for value in ("..", "..%2f..%2fetc", "%2e%2e", "a%00b", "a%2fb"):
        for template in (
            "/api/projects/{v}",
            "/api/projects/{v}/runs",
            "/api/projects/{v}/datasets/{v}",
            "/api/runs/{v}",
            "/api/runs/{v}/artifacts",
            "/api/runs/{v}/repro",
        ):
            # The client drops dot segments, so ".." may land on another route (405).
            _refused(alice.call("GET", template.format(v=value)), 400, 404, 405)
    for slug in ("../x", "..", "a/b", "a\\b", "x\x00"):
        _refused(alice.call("POST", "/api/projects", json={"name": "x", "slug": slug}), 400)
    assert _snapshot(api) == before


def test_traversal_in_uploaded_file_names_is_refused(signed_in: Signed) -> None:  # noqa: F811
    api, alice, _ = signed_in
    run_id = alice.track("a")
    before = _snapshot(api)
    for name in NAMES:
        response = alice.call(
            "POST",
            f"/api/runs/{run_id}/files",
            files={"file": ("f.txt", b"payload", "text/plain")},
            data={"path": name},
        )
        _refused(response, 400)
        if "\x00" in name:
            continue  # multipart headers cannot carry a NUL: the client sends "%00"
        dataset = PENGUINS.read_bytes()
        upload = alice.call(
            "POST",
            "/api/projects/a/datasets",
            files={"file": (name + ".csv" if name else "", dataset, "text/csv")},
            data={"name": "evil", "target": "sex"},
        )
        _refused(upload, 400)
    assert _snapshot(api) == before


def _archive(member: tarfile.TarInfo, data: bytes = b"{}") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return buffer.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = 2 if kind == tarfile.REGTYPE else 0
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "member",
    [
        _member("../escape.json"),
        _member("eval/../../escape.json"),
        _member("/tmp/escape.json"),
        _member("eval/link", tarfile.SYMTYPE, "/etc/passwd"),
        _member("eval/hard", tarfile.LNKTYPE, "../../run.json"),
        _member("eval/dev", tarfile.CHRTYPE),
        _member("eval/fifo", tarfile.FIFOTYPE),
    ],
    ids=["parent", "nested-parent", "absolute", "symlink", "hardlink", "device", "fifo"],
)
def test_eval_archives_cannot_write_outside_the_run(
    signed_in: Signed,  # noqa: F811
    member: tarfile.TarInfo,
) -> None:
    api, alice, _ = signed_in
    run_id = alice.track("a")
    before = _snapshot(api)
    response = alice.call(
        "POST",
        f"/api/runs/{run_id}/eval",
        files={"file": ("eval.tgz", _archive(member), "application/gzip")},
    )
    problem = _refused(response, 400, 422)
    # The refusal names the member as archived, never where it would have landed here.
    assert str(api.settings.artifact_root) not in problem["detail"]
    assert str(api.settings.home.parent) not in response.text
    assert _snapshot(api) == before


def test_decompression_bombs_are_refused_before_anything_is_written(
    signed_in: Signed,  # noqa: F811
) -> None:
    api, alice, _ = signed_in
    run_id = alice.track("a")
    before = _snapshot(api)
    big = io.BytesIO()
    with tarfile.open(fileobj=big, mode="w:gz") as tar:
        info = tarfile.TarInfo("eval/zeros.bin")
        info.size = 300 * 1024 * 1024  # compresses to about 300 KB
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    many = io.BytesIO()
    with tarfile.open(fileobj=many, mode="w:gz") as tar:
        for i in range(10_001):
            info = tarfile.TarInfo(f"eval/f{i}.json")
            info.size = 2
            tar.addfile(info, io.BytesIO(b"{}"))
    for archive, words in (
        (big, "expands to more than 256 MB"),
        (many, "more than 10,000 members"),
    ):
        response = alice.call(
            "POST",
            f"/api/runs/{run_id}/eval",
            files={"file": ("eval.tgz", archive.getvalue(), "application/gzip")},
        )
        assert words in _refused(response, 400)["detail"]
        assert _snapshot(api) == before


# --- markup and formulas --------------------------------------------------------------

SCRIPT = "<script>alert('x')</script>"
IMG = '<img src=x onerror="alert(1)">'
FORMULA = '=HYPERLINK("http://evil.example","click")'
RICH = "[bold red]not markup[/bold red]"


def test_markup_and_formulas_come_back_as_text(
    signed_in: Signed,  # noqa: F811
    tmp_path: Path,
) -> None:
    api, alice, _ = signed_in
    alice.ok("POST", "/api/projects", 201, json={"name": SCRIPT, "slug": "marked"})
    alice.upload_penguins("marked", notes=IMG)
    run_id = alice.track(
        "marked",
        name=FORMULA,
        config={"note": SCRIPT, "n": -1},
        params={"@cmd": "+1+1", "k": RICH},
    )
    alice.ok("POST", f"/api/runs/{run_id}/notes", 201, json={"text": "-2+3"})
    alice.ok("POST", f"/api/runs/{run_id}/notes", 201, json={"text": IMG})

    # JSON is data: the exact strings, in a JSON document, never an HTML page.
    for url in (
        "/api/projects/marked",
        f"/api/runs/{run_id}",
        f"/api/runs/{run_id}/params",
        "/api/projects/marked/datasets/penguins",
    ):
        response = alice.call("GET", url)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
    assert alice.ok("GET", "/api/projects/marked")["name"] == SCRIPT
    run = alice.ok("GET", f"/api/runs/{run_id}")
    assert run["model"] == FORMULA and run["config"]["note"] == SCRIPT
    assert [n["text"] for n in run["notes"]] == ["-2+3", IMG]
    shown = alice.ok("GET", "/api/projects/marked/datasets/penguins")
    assert [n["text"] for n in shown["notes"]] == [IMG]

    # CSV export: text cells that a spreadsheet would run start with an apostrophe.
    export = alice.call("GET", "/api/projects/marked/runs.csv")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"].startswith("attachment")
    assert export.headers["x-content-type-options"] == "nosniff"
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == 1 and rows[0]["id"] == run_id
    assert rows[0]["model"] == "'" + FORMULA
    assert rows[0]["notes"] == "'-2+3\n" + IMG
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(("=", "+", "@")), (column, cell)
            assert not cell.startswith("-") or _is_number(cell), (column, cell)

    # The CLI prints the same CSV, and its tables show brackets as typed (no rich markup).
    token = alice.headers["Authorization"].removeprefix("Bearer ")
    env = {
        "MODELLAB_HOME": str(api.settings.home),
        "MODELLAB_ARTIFACT_ROOT": str(api.settings.artifact_root),
        "MODELLAB_DATABASE_URL": api.settings.database_url,
        "MODELLAB_TOKEN": token,
    }
    runner = CliRunner()
    printed = runner.invoke(cli, ["runs", "-p", "marked", "--csv"], env=env)
    assert printed.exit_code == 0, printed.output
    assert printed.stdout_bytes.decode() == export.text  # .output folds CRLF to LF
    alice.track("marked", name=RICH)
    table = runner.invoke(cli, ["runs", "-p", "marked"], env=env | {"COLUMNS": "400"})
    assert table.exit_code == 0, table.output
    assert FORMULA in table.output and RICH in table.output

    # The HTML pages escape what they echo.
    page = api.client.get("/auth/magic-link", params={"token": f'"><script>{SCRIPT}'})
    # The page's own script is the only one, and it never echoes the query.
    assert page.status_code == 200 and page.text.count("<script>") == 1
    assert "alert" not in page.text


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_nul_characters_are_refused_wherever_text_enters(signed_in: Signed) -> None:  # noqa: F811
    # PostgreSQL cannot store NUL; SQLite would. Both refuse it the same way, up front.
    api, alice, _ = signed_in
    run_id = alice.track("a")
    before = _snapshot(api)
    tracked = tracked_body("a")
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/projects/a/runs?model=a%00b", {}),
        ("GET", "/api/projects/a%00b/runs", {}),
        ("POST", "/api/projects", {"json": {"name": "a\x00b"}}),
        ("POST", f"/api/runs/{run_id}/notes", {"json": {"text": "before\x00after"}}),
        ("POST", "/api/tracked-runs", {"json": tracked | {"config": {"k": "v\x00"}}}),
        ("POST", "/api/tracked-runs", {"json": tracked | {"params": {"k\x00": 1}}}),
        ("POST", f"/api/runs/{run_id}/log", {"json": {"params": {"k": "\x00"}}}),
        ("POST", "/api/auth/magic-link", {"json": {"email": "a\x00@b.c"}}),
        (
            "POST",
            "/api/projects/a/datasets",
            {
                "files": {"file": ("p.csv", PENGUINS.read_bytes(), "text/csv")},
                "data": {"name": "penguins2", "target": "sex", "notes": "x\x00y"},
            },
        ),
    ]
    # The same rule whatever type the body declares: a note is decoded as JSON either way.
    for declared in ("text/plain", "application/octet-stream", "application/x-json"):
        attempts.append(
            (
                "POST",
                f"/api/runs/{run_id}/notes",
                {"content": b'{"text": "a\\u0000b"}', "headers": {"Content-Type": declared}},
            )
        )
    for method, url, kwargs in attempts:
        problem = _refused(alice.call(method, url, **kwargs), 400)
        assert "NUL" in problem["detail"] or "cannot be stored" in problem["detail"], url
    assert _snapshot(api) == before


def test_bytes_that_are_not_utf8_are_refused(signed_in: Signed) -> None:  # noqa: F811
    api, alice, _ = signed_in
    run_id = alice.track("a")
    before = _snapshot(api)
    for declared in ("application/json", "text/plain"):
        for url, body in (
            ("/api/projects", b'{"name": "\xff\xfe"}'),
            (f"/api/runs/{run_id}/notes", b'{"text": "ok\xff"}'),
        ):
            response = alice.call("POST", url, content=body, headers={"Content-Type": declared})
            assert "not UTF-8" in _refused(response, 400)["detail"]
    response = alice.call(
        "POST",
        "/api/projects/a/datasets",
        files={"file": ("p.csv", PENGUINS.read_bytes(), "text/csv")},
        data={"name": "penguins2", "target": "sex", "notes": b"\xff\xfe".decode("latin-1")},
    )
    # httpx sends that note as UTF-8 (c3 bf c3 be): valid, so it is stored as typed.
    assert response.status_code == 201
    raw = (
        b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\n\xff\xfe\r\n'
        b'--b\r\nContent-Disposition: form-data; name="target"\r\n\r\nsex\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + PENGUINS.read_bytes() + b"\r\n--b--\r\n"
    )
    middle = _snapshot(api)
    response = alice.call(
        "POST",
        "/api/projects/a/datasets",
        content=raw,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    _refused(response, 400)
    assert _snapshot(api) == middle
    assert before != middle  # the valid upload above was stored, and only it


# --- mass assignment ------------------------------------------------------------------


def test_mass_assignment_is_refused_everywhere(signed_in: Signed) -> None:  # noqa: F811
    api, alice, bob = signed_in
    run_id = alice.track("a")
    before = _snapshot(api)
    base_run = {
        "project": "a",
        "dataset": "penguins",
        "template": "tabular-classification",
        "model": "most_frequent",
    }
    base_tracked = tracked_body("a")
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/projects", {"name": "c", "owner": "bob@example.com"}),
        ("POST", "/api/projects", {"name": "c", "created_at": "2020-01-01T00:00:00Z"}),
        ("POST", "/api/runs", base_run | {"status": "succeeded"}),
        ("POST", "/api/runs", base_run | {"project_id": "x"}),
        ("POST", "/api/runs", base_run | {"id": "00000000-0000-7000-8000-000000000009"}),
        ("POST", "/api/tracked-runs", base_tracked | {"status": "succeeded"}),
        ("POST", "/api/tracked-runs", base_tracked | {"role": "baseline"}),
        ("POST", "/api/tracked-runs", base_tracked | {"metrics_summary": {"auc": 1}}),
        ("POST", f"/api/runs/{run_id}/notes", {"text": "x", "created_at": "2020-01-01"}),
        ("POST", f"/api/runs/{run_id}/log", {"params": {}, "run_id": "other"}),
        ("POST", f"/api/runs/{run_id}/finish", {"status": "succeeded", "project": "b"}),
        ("POST", "/api/tokens", {"name": "x", "user_id": "someone"}),
        ("POST", "/api/tokens", {"name": "x", "token_hash": "0" * 64}),
        ("PUT", "/api/projects/a/members", {"email": "b@x.y", "role": "owner", "project": "b"}),
        ("POST", "/api/auth/magic-link", {"email": "a@b.c", "user_id": "x"}),
    ]
    for method, url, body in attempts:
        problem = _refused(alice.call(method, url, json=body), 400)
        assert "unknown field" in problem["detail"] or "invalid" in problem["detail"], url
    # A role outside the three is refused too.
    _refused(
        alice.call("PUT", "/api/projects/a/members", json={"email": "b@x.y", "role": "admin"}),
        400,
    )
    assert _snapshot(api) == before
    assert alice.ok("GET", f"/api/runs/{run_id}")["status"] == "running"
    assert [p["slug"] for p in bob.ok("GET", "/api/projects")] == ["b"]


# --- oversized and malformed bodies ---------------------------------------------------

MALFORMED: list[bytes] = [
    b"",
    b"{",
    b"[]",
    b"null",
    b'"text"',
    b"\xff\xfe\x00{",
    b'{"name": 1}',
    b'{"text": {"$gt": ""}}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"name": "x"' + b', "a": 1' * 10 + b"}",
]


def test_malformed_and_oversized_json_bodies_are_refused(signed_in: Signed) -> None:  # noqa: F811
    api, alice, _ = signed_in
    run_id = alice.track("a")
    before = _snapshot(api)
    endpoints = [
        ("POST", "/api/projects"),
        ("POST", "/api/runs"),
        ("POST", "/api/tracked-runs"),
        ("POST", f"/api/runs/{run_id}/notes"),
        ("POST", f"/api/runs/{run_id}/log"),
        ("POST", f"/api/runs/{run_id}/finish"),
        ("POST", "/api/tokens"),
        ("PUT", "/api/projects/a/members"),
    ]
    json_type = {"Content-Type": "application/json"}
    for method, url in endpoints:
        for body in MALFORMED:
            _refused(alice.call(method, url, content=body, headers=json_type), 400)
        huge = b'{"text": "' + b"x" * (17 * 1024 * 1024) + b'"}'
        problem = _refused(alice.call(method, url, content=huge, headers=json_type), 413)
        assert "16 MB" in problem["detail"]
    # A note just over its own limit, well under the body limit.
    long_note = {"text": "x" * 10_001}
    _refused(alice.call("POST", f"/api/runs/{run_id}/notes", json=long_note), 400)
    # Form uploads that are not forms, or lack the file.
    _refused(alice.call("POST", "/api/projects/a/datasets", content=b"{}", headers=json_type), 400)
    _refused(alice.call("POST", "/api/projects/a/datasets", data={"name": "x"}), 400)
    assert _snapshot(api) == before


# --- credentials ----------------------------------------------------------------------


def _session_cookie(api: Api, email: str, age: timedelta | None = None) -> str:
    """A real session of ``email``, pushed ``age`` into the past when given."""

    async def make() -> str:
        async with open_database(api.settings.database_url) as db:
            row = await ensure_user(db, email)
            secret = await create_session(db, User(row.id, row.email, row.name))
            if age is not None:
                async with db.session() as s:
                    await s.execute(
                        update(SessionRow)
                        .where(SessionRow.user_id == row.id)
                        .values(expires_at=utcnow() - age)
                    )
            return secret

    return asyncio.run(make())


def test_forged_expired_and_revoked_credentials_are_refused(
    signed_in: Signed,  # noqa: F811
) -> None:
    api, alice, _ = signed_in
    token = alice.headers["Authorization"].removeprefix("Bearer ")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    good_cookie = _session_cookie(api, "carol@example.com")
    expired_cookie = _session_cookie(api, "dave@example.com", age=timedelta(seconds=1))
    before = _snapshot(api)
    body = {"name": "sneaky"}
    headers_tried: list[dict[str, str]] = [
        {"Authorization": "Bearer mlt_" + "A" * 43},
        {"Authorization": f"Bearer {tampered}"},
        {"Authorization": f"Bearer {token} extra"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": "Bearer "},
        {"Cookie": f"{COOKIE}={expired_cookie}"},
        {"Cookie": f"{COOKIE}={good_cookie}x"},
        {"Cookie": f"{COOKIE}=" + "A" * 43},
        {"Cookie": f"{COOKIE}="},
    ]
    api.client.cookies.clear()
    for headers in headers_tried:
        origin = {"Origin": "http://testserver.local"}
        for method, url in (("GET", "/api/projects"), ("POST", "/api/projects")):
            response = api.client.request(
                method, url, headers=headers | origin, json=body if method == "POST" else None
            )
            _refused(response, 401)
    assert _snapshot(api) == before

    # A token revoked by its owner stops working at once.
    token_id = alice.ok("GET", "/api/tokens")[0]["id"]
    alice.ok("DELETE", f"/api/tokens/{token_id}", 204)
    _refused(alice.call("GET", "/api/projects"), 401)
    # A session ended by sign-out stops working at once.
    cookies = {COOKIE: good_cookie}
    headers = {"Origin": "http://testserver.local"}
    assert api.client.get("/api/auth/me", cookies=cookies).status_code == 200
    api.client.post("/api/auth/sign-out", cookies=cookies, headers=headers)
    api.client.cookies.clear()
    _refused(api.client.get("/api/auth/me", cookies=cookies), 401)


def test_api_tokens_never_appear_in_listings(signed_in: Signed) -> None:  # noqa: F811
    _, alice, _ = signed_in
    token = alice.headers["Authorization"].removeprefix("Bearer ")
    listed = json.dumps(alice.ok("GET", "/api/tokens"))
    assert token not in listed and token[4:20] not in listed


# --- patterns and wildcards -----------------------------------------------------------


def test_names_and_slugs_end_where_the_text_ends(signed_in: Signed) -> None:  # noqa: F811
    """A pattern anchored with ``$`` also matches before a final newline: "beta\\n" would
    be a slug beside "beta". Every name and slug pattern is anchored at the true end."""
    api, alice, _ = signed_in
    alice.ok("POST", "/api/projects", 201, json={"name": "beta", "slug": "beta"})
    alice.upload_penguins("beta")
    before = _snapshot(api)
    for slug in ("beta\n", "gamma\n", "beta\r\n"):
        _refused(alice.call("POST", "/api/projects", json={"name": "x", "slug": slug}), 400)
    with PENGUINS.open("rb") as f:
        response = alice.call(
            "POST",
            "/api/projects/beta/datasets",
            files={"file": ("penguins.csv", f, "text/csv")},
            data={"name": "penguins\n", "target": "sex"},
        )
    _refused(response, 400)
    assert _snapshot(api) == before


def test_a_run_id_prefix_is_text_not_a_like_pattern(signed_in: Signed) -> None:  # noqa: F811
    _, alice, _ = signed_in
    alice.ok("POST", "/api/projects", 201, json={"name": "pre"})
    alice.upload_penguins("pre")
    run_id = alice.track("pre")
    for prefix in ("%%%%%%%%", "________", run_id[:7] + "%", run_id[:7] + "_"):
        _refused(alice.call("GET", f"/api/runs/{prefix.replace('%', '%25')}"), 400, 404)
    assert alice.ok("GET", f"/api/runs/{run_id[:13]}")["id"] == run_id


def test_a_bare_carriage_return_never_splits_a_csv_cell(signed_in: Signed) -> None:  # noqa: F811
    _, alice, _ = signed_in
    alice.ok("POST", "/api/projects", 201, json={"name": "cr"})
    alice.upload_penguins("cr")
    run_id = alice.track("cr")
    alice.ok("POST", f"/api/runs/{run_id}/notes", 201, json={"text": "ok\r@SUM(1)"})
    export = alice.call("GET", "/api/projects/cr/runs.csv").text
    # A reader that breaks lines at a bare CR (as spreadsheets do) still sees one row.
    assert '"ok\r@SUM(1)"' in export
    records = export.split("\r\n")
    assert len([r for r in records if r]) == 2  # the header and the one run
    rows = list(csv.DictReader(io.StringIO(export, newline="")))
    assert len(rows) == 1 and rows[0]["notes"] == "ok\r@SUM(1)"


def test_integers_beyond_what_the_store_holds_are_refused(signed_in: Signed) -> None:  # noqa: F811
    """Seeds are 32-bit in the store and a log offset is a file position: the schemas say
    the real bounds and refuse beyond them with 400, on SQLite and PostgreSQL alike."""
    api, alice, _ = signed_in
    alice.ok("POST", "/api/projects", 201, json={"name": "big"})
    alice.upload_penguins("big")
    run_id = alice.track("big", seed=2**31 - 1)
    before = _snapshot(api)
    for seed in (2**31, 2**32, 2**63 - 1):
        body = tracked_body("big") | {"seed": seed}
        _refused(alice.call("POST", "/api/tracked-runs", json=body), 400)
        queued = {
            "project": "big",
            "dataset": "penguins",
            "template": "tabular-classification",
            "model": "most_frequent",
            "seed": seed,
        }
        _refused(alice.call("POST", "/api/runs", json=queued), 400)
    for offset in (2**62, 2**63, 2**64):
        _refused(alice.call("GET", f"/api/runs/{run_id}/logs", params={"offset": offset}), 400)
    assert alice.call("GET", f"/api/runs/{run_id}/logs", params={"offset": 2**53}).content == b""
    assert _snapshot(api) == before


def test_deep_or_huge_run_documents_are_refused(signed_in: Signed) -> None:  # noqa: F811
    """A config is returned in every runs listing: it may nest 32 levels and hold 256 KB."""
    api, alice, _ = signed_in
    alice.track("a", config={"ok": [[{"n": 1}]]})
    before = _snapshot(api)

    def nested(depth: int) -> dict[str, Any]:
        doc: dict[str, Any] = {"leaf": 1}
        for _ in range(depth - 1):
            doc = {"k": doc}
        return doc

    def body_with(field: str, doc_json: str) -> bytes:
        # Written out by hand: encoding 950 levels would overflow this test's own stack
        # (deeper under a pytest-xdist worker), long before the server sees it.
        return (json.dumps(tracked_body("a"))[:-1] + f', "{field}": {doc_json}}}').encode()

    deep = '{"k": ' * 949 + '{"leaf": 1}' + "}" * 949
    for field, raw in (
        ("config", json.dumps(nested(33))),
        ("config", deep),
        ("environment", deep),
        ("config", json.dumps({"blob": "x" * (15 * 1024 * 1024)})),
    ):
        problem = _refused(
            alice.call(
                "POST",
                "/api/tracked-runs",
                content=body_with(field, raw),
                headers={"Content-Type": "application/json"},
            ),
            400,
        )
        assert field in problem["detail"]
    assert _snapshot(api) == before
    alice.track("a", config=nested(32))  # the limit itself is fine
    assert alice.call("GET", "/api/projects/a/runs").status_code == 200


def test_over_long_file_names_are_refused_and_leave_nothing(signed_in: Signed) -> None:  # noqa: F811
    api, alice, _ = signed_in
    run_id = alice.track("a")
    before = _snapshot(api)
    for path in ("a" * 4096, "d/" + "b" * 300, "/".join(["c" * 100] * 12)):
        response = alice.call(
            "POST",
            f"/api/runs/{run_id}/files",
            files={"file": ("x.bin", b"payload", "application/octet-stream")},
            data={"path": path},
        )
        problem = _refused(response, 400)
        assert "at most 200 bytes a name" in problem["detail"]
        assert len(problem["detail"]) < 400  # the message does not echo 4 KB back
    assert _snapshot(api) == before
    ok = alice.call(
        "POST",
        f"/api/runs/{run_id}/files",
        files={"file": ("x.bin", b"payload", "application/octet-stream")},
        data={"path": "d/" + "e" * 200},
    )
    assert ok.status_code == 201, ok.text


# --- reads that write, and server paths in errors --------------------------------------


def _eval_archive(tmp_path: Path, c: float) -> bytes:
    """An EvalHarness report (breast cancer, logistic regression with ``C``) as a .tgz."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    from tests.evalharness.conftest import _split, classify

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    folder = tmp_path / f"eval-{c}"
    classify(_split(x, y, LogisticRegression(C=c, max_iter=2000)), folder)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(str(folder), arcname="eval")
    return buffer.getvalue()


@pytest.fixture
def compared(signed_in: Signed, tmp_path: Path) -> tuple[Api, As, As, str, str]:  # noqa: F811
    """Two of alice's runs with eval reports, in project ``a`` where bob is a viewer."""
    api, alice, bob = signed_in
    runs = []
    for c in (0.01, 1.0):
        run_id = alice.track("a", name=f"C={c}")
        archive = _eval_archive(tmp_path, c)
        alice.ok(
            "POST",
            f"/api/runs/{run_id}/eval",
            files={"file": ("eval.tgz", archive, "application/gzip")},
        )
        runs.append(run_id)
    alice.ok("PUT", "/api/projects/a/members", json={"email": "bob@example.com", "role": "viewer"})
    return api, alice, bob, runs[0], runs[1]


def test_a_viewer_reading_a_comparison_writes_nothing(
    compared: tuple[Api, As, As, str, str],
) -> None:
    api, _, bob, a, b = compared
    before = _snapshot(api)
    doc = bob.ok("GET", "/api/compare", params={"a": a, "b": b})
    assert doc["a"]["id"] == a and doc["b"]["id"] == b and doc["metrics"] and doc["plots"]
    assert _snapshot(api) == before, "a read wrote files"
    # Again: still nothing written, and the same answer.
    assert bob.ok("GET", "/api/compare", params={"a": a, "b": b}) == doc
    assert _snapshot(api) == before

    # The plots are drawn into a cache outside every run folder.
    cache = api.settings.artifact_root / ".cache"
    for plot in doc["plots"]:
        response = bob.call("GET", f"/api/compare/{plot}", params={"a": a, "b": b})
        assert response.status_code == 200, response.text
        assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert response.headers["content-type"] == "image/png"
        assert "default-src 'none'" in response.headers["content-security-policy"]
    tables, files = _snapshot(api)
    assert tables == before[0]
    new = sorted(set(files) - set(before[1]))
    assert len(new) == len(doc["plots"]) and set(files) >= set(before[1])
    root = api.settings.home.parent
    assert all((root / f).is_relative_to(cache) for f in new), new
    again = bob.call("GET", f"/api/compare/{doc['plots'][0]}", params={"a": a, "b": b})
    assert again.status_code == 200 and _snapshot(api)[1] == files  # drawn once

    # Plot names are the reports' own, nothing else reaches a file.
    for name in ("../run.json", "..%2frun.json", "%2e%2e", "nope.png", ".hidden.png", "x\\y.png"):
        _refused(bob.call("GET", f"/api/compare/plots/{name}", params={"a": a, "b": b}), 400, 404)
    _refused(bob.call("GET", "/api/compare/plots/roc_curve.png", params={"a": a, "b": a}), 400)
    assert _snapshot(api)[1] == files


def test_the_api_answers_the_comparison_the_cli_writes(
    compared: tuple[Api, As, As, str, str],
) -> None:
    from modellab.access.users import actor_for
    from modellab.compare import compare_runs
    from modellab.plugins import load_registry

    api, _, bob, a, b = compared
    doc = bob.ok("GET", "/api/compare", params={"a": a, "b": b})

    async def write() -> Path:
        async with open_database(api.settings.database_url) as db:
            user = await ensure_user(db, "alice@example.com")
            _, out = await compare_runs(
                db.as_actor(actor_for(user, "session")),
                api.settings,
                load_registry().task_types,
                a,
                b,
            )
            return out

    out = asyncio.run(write())
    assert out == api.settings.artifact_root / "a" / b / "compare" / a
    assert json.loads((out / "compare.json").read_text()) == doc
    assert sorted(f"plots/{p.name}" for p in (out / "plots").iterdir()) == doc["plots"]


def _server_paths(api: Api) -> list[str]:
    """Where this test's server keeps things: no error may name any of them."""
    import tempfile

    return [
        str(api.settings.artifact_root),
        str(api.settings.home),
        str(api.settings.home.parent),
        tempfile.gettempdir() + "/",
    ]


def _names_no_server_path(api: Api, text: str) -> None:
    for path in _server_paths(api):
        assert path not in text, (path, text)


def test_files_that_cannot_be_served_answer_without_server_paths(
    signed_in: Signed,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import litestar.file_system

    from modellab.server.controllers import artifacts

    api, alice, _ = signed_in
    run_id = alice.track("a")
    real = artifacts.resolve_artifact

    def stored(name: str) -> str:
        alice.ok(
            "POST",
            f"/api/runs/{run_id}/files",
            201,
            files={"file": ("f.json", b"{}", "application/json")},
            data={"path": name},
        )
        return f"/api/runs/{run_id}/artifacts/files/{name}"

    async def denied(self: Any, path: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied", str(path))

    def vanished(folder: Path, rel: str, raw: bytes = b"") -> Path:
        path = real(folder, rel, raw)
        path.unlink()  # removed between the check and the answer (a re-run, a clean-up)
        return path

    def replaced(folder: Path, rel: str, raw: bytes = b"") -> Path:
        path = vanished(folder, rel, raw)
        path.mkdir()  # and a folder put where the file was
        return path

    cases: list[tuple[object, str, Any]] = [
        # The server's account may not look into the folder (another account's, say).
        (litestar.file_system.BaseLocalFileSystem, "info", denied),
        (artifacts, "resolve_artifact", vanished),
        (artifacts, "resolve_artifact", replaced),
    ]
    for i, (owner, name, swap) in enumerate(cases):
        url = stored(f"f{i}.json")
        with monkeypatch.context() as m:
            m.setattr(owner, name, swap)
            response = alice.call("GET", url)
        # The server's trouble, not the client's: a 500 that names no file of the server.
        problem = _refused(response, 500)
        assert problem["type"].endswith("/internal-error")
        _names_no_server_path(api, response.text)


def test_errors_raised_with_server_paths_are_answered_without_them(
    signed_in: Signed,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import msgspec

    from modellab.datasets import storage
    from modellab.domain import DatasetVersion
    from modellab.errors import InvalidInputError
    from modellab.runs import service

    api, alice, _ = signed_in
    run_id = alice.track("a")
    raw = alice.call("GET", "/api/projects/a/datasets/penguins").content
    version = msgspec.json.decode(raw, type=DatasetVersion)
    folder = storage.dataset_dir(api.settings.artifact_root, "a", version.checksum)
    # A dataset's files missing on disk: the store's errors name where they should be.
    (folder / "data.parquet").unlink()
    storage.split_path(folder, version.split.checksum).unlink()

    async def missing_data(*args: Any, **kwargs: Any) -> Any:
        return storage.load_frame(api.settings.artifact_root, version)

    async def missing_split(*args: Any, **kwargs: Any) -> Any:
        return storage.load_version_split(api.settings.artifact_root, version)

    async def unreadable(*args: Any, **kwargs: Any) -> Any:
        path = api.settings.home / "uploads" / "tmpab12" / "penguins.csv"
        raise InvalidInputError(f"{path}: cannot read: Permission denied")

    for raises, where in (
        (missing_data, "<artifact root>/a/datasets/"),
        (missing_split, "<artifact root>/a/datasets/"),
        (unreadable, "<MODELLAB_HOME>/uploads/"),
    ):
        with monkeypatch.context() as m:
            m.setattr(service, "get_run", raises)
            for url in (f"/api/runs/{run_id}", f"/api/runs/{run_id}/eval"):
                response = alice.call("GET", url)
                problem = _refused(response, 400, 404)
                _names_no_server_path(api, response.text)
                # Still actionable: what is missing, relative to where it is kept.
                assert where in problem["detail"], problem


# SQLite only: runs train here, and training on PostgreSQL (under row-level security) has
# its own end-to-end tests (test_postgres_flow.py, the worker tests).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_run_failing_on_a_missing_dataset_file_says_so_without_server_paths(
    api_factory: Any,
) -> None:
    import time

    from modellab.datasets import storage
    from tests.server.test_access import PUBLIC_URL, token_for

    api = api_factory(public_url=PUBLIC_URL)  # runs execute
    alice = As(api, token_for(api.settings, "alice@example.com"))
    alice.ok("POST", "/api/projects", 201, json={"name": "a"})
    version = alice.upload_penguins("a")
    folder = storage.dataset_dir(api.settings.artifact_root, "a", version["checksum"])
    (folder / "data.parquet").unlink()
    body = {
        "project": "a",
        "dataset": "penguins",
        "template": "tabular-classification",
        "model": "most_frequent",
        "n_bootstrap": 10,
    }
    run = alice.ok("POST", "/api/runs", 202, json=body)
    deadline = time.monotonic() + 120
    while run["status"] not in ("succeeded", "failed", "cancelled", "timed_out"):
        assert time.monotonic() < deadline, run
        time.sleep(0.2)
        run = alice.ok("GET", f"/api/runs/{run['id']}")
    assert run["status"] == "failed"
    # What is missing is still named, but not where this server keeps it.
    assert "data.parquet is missing" in run["status_reason"], run["status_reason"]
    _names_no_server_path(api, run["status_reason"])
    listed = alice.ok("GET", "/api/projects/a/runs")["items"][0]["status_reason"]
    _names_no_server_path(api, listed)
