"""Dashboard sign-in, sessions and CSRF against the collector's real ASGI app (in process,
through httpx's ASGI transport), and ``server user add`` as a subprocess.

Each refusal is checked for its status and for not opening a page: a tampered, expired or
stale cookie, a missing or foreign CSRF token, too many failed sign-ins, a redirect target off
the site, and a dashboard session on the admin API.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from netcheck.server.app import Collector, build_app
from netcheck.server.dashboard.auth import (
    Sessions,
    add_user,
    hash_password,
    secret_key,
    verify_password,
)
from netcheck.server.store import Store
from tests.support.paths import ROOT

PASSWORD = "correct horse battery"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Store]]:
    store = Store(tmp_path / "data")
    add_user(store, "ana", PASSWORD)
    collector = Collector(store, "admin-token")
    app = build_app(collector)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="https://collector") as client:
        yield client, store
    assert collector.writer is not None
    collector.writer.stop()
    store.close()


async def login(client: httpx.AsyncClient, name: str, password: str, **form: str) -> httpx.Response:
    page = await client.get("/dashboard/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    data = {"csrf": csrf[1], "name": name, "password": password, "next": "/dashboard/", **form}
    return await client.post("/dashboard/login", data=data)


def test_scrypt_hashes_are_salted_and_checked() -> None:
    a, b = hash_password(PASSWORD, n=2**10), hash_password(PASSWORD, n=2**10)
    assert a != b
    assert a.startswith("scrypt$1024$8$1$")
    assert verify_password(PASSWORD, a)
    assert not verify_password(PASSWORD + "x", a)
    assert not verify_password(PASSWORD, "md5$abc")
    assert PASSWORD not in a


async def test_sign_in_sets_a_strict_session_and_opens_the_board(
    site: tuple[httpx.AsyncClient, Store],
) -> None:
    client, _ = site
    assert (await client.get("/dashboard/")).status_code == 303
    answer = await login(client, "ana", PASSWORD)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("nc_session="))
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/dashboard", "Max-Age=28800"):
        assert flag in cookie
    board = await client.get("/dashboard/")
    assert board.status_code == 200
    assert "default-src 'none'" in board.headers["content-security-policy"]
    assert "<script" not in board.text
    # a dashboard session is not the admin token
    for path in ("/metrics", "/v1/probes", "/v1/state"):
        assert (await client.get(path)).status_code == 401


async def test_wrong_password_and_unknown_user_fail_alike(
    site: tuple[httpx.AsyncClient, Store],
) -> None:
    client, _ = site
    for name, password in (("ana", "wrong password"), ("nobody", PASSWORD)):
        answer = await login(client, name, password)
        assert answer.status_code == 401
        assert "nc_session" not in answer.headers.get("set-cookie", "")
    assert (await client.get("/dashboard/")).status_code == 303


async def test_login_needs_its_csrf_token(site: tuple[httpx.AsyncClient, Store]) -> None:
    client, _ = site
    page = await client.get("/dashboard/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"name": "ana", "password": PASSWORD}
    assert (await client.post("/dashboard/login", data=form)).status_code == 403
    client.cookies.clear()  # the token was made for a nonce this browser no longer holds
    answer = await client.post(
        "/dashboard/login",
        data={**form, "csrf": csrf[1]},
        headers={"cookie": "nc_login=another-nonce"},
    )
    assert answer.status_code == 403
    assert "nc_session" not in answer.headers.get("set-cookie", "")


async def test_failed_sign_ins_are_rate_limited(site: tuple[httpx.AsyncClient, Store]) -> None:
    client, _ = site
    for _ in range(5):
        assert (await login(client, "ana", "wrong password")).status_code == 401
    limited = await login(client, "ana", PASSWORD)  # even the right password waits now
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert (await client.get("/dashboard/")).status_code == 303


async def test_tampered_expired_and_stale_sessions_are_refused(
    site: tuple[httpx.AsyncClient, Store],
) -> None:
    client, store = site
    sessions = Sessions(secret_key(store.data))
    stored = store.query("SELECT password FROM users WHERE name = 'ana'")[0][0]

    async def board_with(cookie: str) -> int:
        client.cookies.clear()
        answer = await client.get("/dashboard/", headers={"cookie": f"nc_session={cookie}"})
        return answer.status_code

    good = sessions.issue("ana", stored)
    assert await board_with(good) == 200
    payload, mac = good.split(".")
    assert await board_with(payload + "." + mac[:-2] + "AA") == 303
    assert await board_with(sessions.issue("ana", stored, now=time.time() - 9 * 3600)) == 303
    assert await board_with(Sessions(b"another key").issue("ana", stored)) == 303
    add_user(store, "ana", "a brand new password")  # a new password ends old sessions
    assert await board_with(good) == 303


async def test_next_stays_on_the_dashboard(site: tuple[httpx.AsyncClient, Store]) -> None:
    client, _ = site
    for target in ("https://evil.example/", "//evil.example/", "/metrics"):
        answer = await login(client, "ana", PASSWORD, next=target)
        assert answer.headers["location"] == "/dashboard/"


async def test_sign_out_needs_the_session_csrf(site: tuple[httpx.AsyncClient, Store]) -> None:
    client, _ = site
    await login(client, "ana", PASSWORD)
    assert (await client.post("/dashboard/logout", data={"csrf": "forged"})).status_code == 403
    assert (await client.get("/dashboard/")).status_code == 200
    board = await client.get("/dashboard/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', board.text)
    assert csrf is not None
    out = await client.post("/dashboard/logout", data={"csrf": csrf[1]})
    assert out.status_code == 303
    assert (await client.get("/dashboard/")).status_code == 303


def test_user_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Store(data).close()
    done = netcheck_with_input(
        "una clave bastante larga\n",
        "server",
        "user",
        "add",
        "--data",
        str(data),
        "--name",
        "lucia",
    )
    assert done.returncode == 0, done.stderr
    assert "una clave" not in done.stderr + done.stdout
    store = Store(data)
    stored = store.query("SELECT password FROM users WHERE name = 'lucia'")[0][0]
    store.close()
    assert verify_password("una clave bastante larga", stored)


def test_user_add_refusals_exit_2_and_store_nothing(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from netcheck.cli import app

    data = tmp_path / "data"
    Store(data).close()
    runner = CliRunner()
    for name, password, folder in (
        ("lucia", "short", data),
        ("../x", "una clave bastante larga", data),
        ("lucia", "una clave bastante larga", tmp_path / "nope"),
    ):
        done = runner.invoke(
            app,
            ["server", "user", "add", "--data", str(folder), "--name", name],
            input=password + "\n",
        )
        assert done.exit_code == 2, done.output
        assert "netcheck: error:" in done.output
    store = Store(data)
    assert store.query("SELECT count(*) FROM users")[0][0] == 0
    store.close()
    assert not (tmp_path / "nope").exists()


def netcheck_with_input(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
