"""The dashboard's pages on the collector's Starlette app, behind a read-only sign-in.

In: the collector's ``Store``, its data folder (for ``dashboard.key``) and the policy it was
started with. Out: ``Dashboard.routes()``, Starlette routes under ``/dashboard/``:

- ``GET /dashboard/login`` the sign-in form (with a CSRF token bound to a pre-session cookie);
  ``POST /dashboard/login`` checks it, at most ``LoginLimiter`` failures per client and user,
  then sets the session cookie; ``POST /dashboard/logout`` (CSRF-checked) clears it;
- ``GET /dashboard/`` the status board, ``/dashboard/channel?url=`` a URL's history,
  ``/dashboard/record/PROBE/SEQ/IDX`` one record's evidence and signature,
  ``/dashboard/probes``, ``/dashboard/policy``: a signed-in user only (else 303 to the login);
- ``GET /dashboard/static/dashboard.css`` the one stylesheet.

Pages are plain HTML: no script, no external resource (the Content-Security-Policy forbids
both), forms that work without JavaScript, ``?lang=es|en`` (remembered in a cookie) else the
browser's Accept-Language. The admin API keeps its bearer token: a session cookie opens only
these pages.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from netcheck.policy.loader import PolicyDoc
from netcheck.report.i18n import messages
from netcheck.server.dashboard import views
from netcheck.server.dashboard.auth import (
    LoginLimiter,
    Sessions,
    check_password,
    fingerprint,
    secret_key,
    user_hash,
)
from netcheck.server.dashboard.words import LANGUAGES, Words
from netcheck.server.store import Store

SESSION_COOKIE = "nc_session"
LOGIN_COOKIE = "nc_login"
LANG_COOKIE = "nc_lang"
PATH = "/dashboard"
MAX_FORM = 4_096
FORM_DEADLINE = 10.0
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

Page = Callable[[Request, str, Words], Awaitable[Response]]


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("netcheck.server.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.cache
def _css() -> bytes:
    return (
        resources.files("netcheck.server.dashboard")
        .joinpath("static", "dashboard.css")
        .read_bytes()
    )


def language(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    kept = request.cookies.get(LANG_COOKIE)
    if kept in LANGUAGES:
        return kept
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "es"


def _switch(request: Request, lang: str) -> str:
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    query["lang"] = "en" if lang == "es" else "es"
    return f"{request.url.path}?{urlencode(query)}"


def _safe_next(target: str | None) -> str:
    if target and target.startswith(PATH + "/") and not target.startswith("//"):
        return target
    return PATH + "/"


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form, read under a size cap and a deadline."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    chunks, size = [], 0
    async with asyncio.timeout(FORM_DEADLINE):
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_FORM:
                return {}
            chunks.append(chunk)
    try:
        text = b"".join(chunks).decode("utf-8")
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in parsed.items() if v}


class Dashboard:
    def __init__(self, store: Store, data: Path, policy: PolicyDoc | None = None) -> None:
        self.store = store
        self.policy = policy
        self.sessions = Sessions(secret_key(data))
        self.limiter = LoginLimiter()
        self.cache = views.FindingCache()

    # --- plumbing -------------------------------------------------------------------------------

    def _cookie(
        self, response: Response, request: Request, name: str, value: str, max_age: int
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=PATH,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )

    def _forget(self, response: Response, request: Request, name: str) -> None:
        self._cookie(response, request, name, "", 0)

    def render(
        self,
        request: Request,
        template: str,
        words: Words,
        *,
        status: int = 200,
        user: str | None = None,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> Response:
        session = request.cookies.get(SESSION_COOKIE, "")
        html = (
            _env()
            .get_template(template)
            .render(
                w=words,
                user=user,
                csrf_logout=self.sessions.csrf("logout:" + session) if user else "",
                switch=_switch(request, words.lang),
                **context,
            )
        )
        response = HTMLResponse(html, status_code=status, headers={**HEADERS, **(headers or {})})
        if request.query_params.get("lang") in LANGUAGES:
            self._cookie(response, request, LANG_COOKIE, words.lang, 365 * 86400)
        return response

    def _user(self, request: Request) -> str | None:
        """The signed-in user, when the cookie is valid and the user's password unchanged."""
        session = self.sessions.read(request.cookies.get(SESSION_COOKIE, ""))
        if session is None:
            return None
        stored = user_hash(self.store, session.user)
        if stored is None or fingerprint(stored) != session.fingerprint:
            return None
        return session.user

    def signed_in(self, page: Page) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            words = Words(language(request))
            user = await asyncio.to_thread(self._user, request)
            if user is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                query = urlencode({"next": target})
                return RedirectResponse(f"{PATH}/login?{query}", 303, headers=HEADERS)
            return await page(request, user, words)

        return run

    # --- sign-in --------------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        return self._login_page(request, Words(language(request)), None, 200)

    def _login_page(
        self,
        request: Request,
        words: Words,
        error: str | None,
        status: int,
        headers: dict[str, str] | None = None,
    ) -> Response:
        import secrets

        nonce = secrets.token_urlsafe(24)
        response = self.render(
            request,
            "login.html.j2",
            words,
            status=status,
            headers=headers,
            error=error,
            csrf=self.sessions.csrf("login:" + nonce),
            next=_safe_next(request.query_params.get("next")),
        )
        self._cookie(response, request, LOGIN_COOKIE, nonce, 3600)
        return response

    async def login(self, request: Request) -> Response:
        words = Words(language(request))
        form = await _form(request)
        nonce = request.cookies.get(LOGIN_COOKIE)
        if not self.sessions.csrf_ok("login:" + (nonce or ""), form.get("csrf")) or not nonce:
            return self._login_page(request, words, words("login_expired"), 403)
        name = form.get("name", "")[:64]
        client = request.client.host if request.client else ""
        wait = self.limiter.retry_after(client, name)
        if wait > 0:
            seconds = max(1, round(wait))
            return self._login_page(
                request,
                words,
                words("login_limited", seconds=seconds),
                429,
                headers={"Retry-After": str(seconds)},
            )
        stored = await asyncio.to_thread(check_password, self.store, name, form.get("password", ""))
        if stored is None:
            self.limiter.failed(client, name)
            return self._login_page(request, words, words("login_failed"), 401)
        target = _safe_next(form.get("next"))
        response = RedirectResponse(target, 303, headers=HEADERS)
        self._cookie(
            response,
            request,
            SESSION_COOKIE,
            self.sessions.issue(name, stored),
            self.sessions.lifetime,
        )
        self._forget(response, request, LOGIN_COOKIE)
        return response

    async def logout(self, request: Request) -> Response:
        form = await _form(request)
        session = request.cookies.get(SESSION_COOKIE, "")
        if not session or not self.sessions.csrf_ok("logout:" + session, form.get("csrf")):
            words = Words(language(request))
            return self.render(
                request,
                "message.html.j2",
                words,
                status=403,
                title=words("forbidden"),
                text=words("forbidden"),
            )
        response = RedirectResponse(f"{PATH}/login", 303, headers=HEADERS)
        self._forget(response, request, SESSION_COOKIE)
        return response

    # --- pages ----------------------------------------------------------------------------------

    async def board(self, request: Request, user: str, words: Words) -> Response:
        msgs = messages(words.lang)
        board = await asyncio.to_thread(views.board, self.store, self.policy, msgs, words)
        return self.render(request, "board.html.j2", words, user=user, section="board", b=board)

    async def channel(self, request: Request, user: str, words: Words) -> Response:
        url = request.query_params.get("url", "")[:2048]
        msgs = messages(words.lang)
        periods = await asyncio.to_thread(views.history, self.store, url, self.policy, msgs, words)
        return self.render(
            request,
            "channel.html.j2",
            words,
            user=user,
            section="board",
            url=url,
            periods=periods,
        )

    async def record(self, request: Request, user: str, words: Words) -> Response:
        params = request.path_params
        msgs = messages(words.lang)
        page = await asyncio.to_thread(
            views.record,
            self.store,
            str(params["probe"]),
            int(params["seq"]),
            int(params["idx"]),
            self.policy,
            msgs,
            words,
        )
        if page is None:
            return self.render(
                request,
                "message.html.j2",
                words,
                status=404,
                user=user,
                section="board",
                title=words("not_found"),
                text=words("record_missing"),
            )
        return self.render(request, "record.html.j2", words, user=user, section="board", r=page)

    async def probes(self, request: Request, user: str, words: Words) -> Response:
        msgs = messages(words.lang)
        rows = await asyncio.to_thread(views.probes, self.store, self.policy, msgs, words)
        return self.render(request, "probes.html.j2", words, user=user, section="probes", rows=rows)

    async def comparison(self, request: Request, user: str, words: Words) -> Response:
        msgs = messages(words.lang)
        rows = None
        if self.policy is not None:
            rows = await asyncio.to_thread(
                views.comparison, self.store, self.policy, self.cache, msgs, words
            )
        return self.render(
            request,
            "policy.html.j2",
            words,
            user=user,
            section="policy",
            policy=self.policy.policy if self.policy else None,
            rows=rows,
        )

    async def css(self, request: Request) -> Response:
        return Response(
            _css(),
            media_type="text/css",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "max-age=3600"},
        )

    async def home(self, request: Request) -> Response:
        return RedirectResponse(PATH + "/", 303, headers=HEADERS)

    def routes(self) -> list[BaseRoute]:
        return [
            Route(PATH, self.home, methods=["GET"]),
            Route(PATH + "/", self.signed_in(self.board), methods=["GET"]),
            Route(PATH + "/login", self.login_form, methods=["GET"]),
            Route(PATH + "/login", self.login, methods=["POST"]),
            Route(PATH + "/logout", self.logout, methods=["POST"]),
            Route(PATH + "/channel", self.signed_in(self.channel), methods=["GET"]),
            Route(
                PATH + "/record/{probe:str}/{seq:int}/{idx:int}",
                self.signed_in(self.record),
                methods=["GET"],
            ),
            Route(PATH + "/probes", self.signed_in(self.probes), methods=["GET"]),
            Route(PATH + "/policy", self.signed_in(self.comparison), methods=["GET"]),
            Route(PATH + "/static/dashboard.css", self.css, methods=["GET"]),
        ]
