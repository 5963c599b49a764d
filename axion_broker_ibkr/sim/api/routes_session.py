"""Session endpoints (REFERENCE §1) and the account list/switch (§2)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .http import Api, Endpoint, body_dict, error, reply
from .state import USER_ID, USER_NAME

SSO_LIFETIME_MS = 24 * 3600 * 1000


async def auth_status(api: Api, request: Request, body: Any) -> Response:
    return reply(api.state.auth_status())


async def tickle(api: Api, request: Request, body: Any) -> Response:
    state = api.state
    s = state.session
    # examples/tickle.json: the nested authStatus carries neither hardware_info nor fail.
    status = {k: v for k, v in state.auth_status().items() if k not in {"hardware_info", "fail"}}
    iserver: dict[str, Any] = {"authStatus": status}
    if not s.authenticated:
        iserver["tickle"] = True  # the IBeam #19 variant seen while the brokerage session is down
    return reply(
        {
            "session": s.token,
            # Counts down to the daily reset (midnight UTC of the simulated clock).
            "ssoExpires": max(0, SSO_LIFETIME_MS - int((state.clock.now() % 86400) * 1000)),
            "collission": False,
            "userId": USER_ID,
            "hmds": {"error": "no bridge"},
            "iserver": iserver,
        }
    )


async def ssodh_init(api: Api, request: Request, body: Any) -> Response:
    state = api.state
    data = body_dict(body)
    if data.get("publish") is not True:
        return error("publish must be true", 500)
    s = state.session
    if state.check_outage() is not None:
        status = state.auth_status()  # "fail" names the window; the session stays down
        return reply(status)
    if s.competing and not data.get("compete"):
        status = state.auth_status()
        status["fail"] = "Another session holds the brokerage session; use compete=true to take it over"
        return reply(status)
    s.open_brokerage(state.clock.now())
    state.emit("sts", {"authenticated": True, "competing": False})
    return reply(state.auth_status())


async def reauthenticate(api: Api, request: Request, body: Any) -> Response:
    state = api.state
    s = state.session
    if not s.competing and not s.brokerage and state.check_outage() is None:
        s.open_brokerage(state.clock.now())
        state.emit("sts", {"authenticated": True})
    return reply({"message": "triggered"})


async def sso_validate(api: Api, request: Request, body: Any) -> Response:
    now = api.state.clock.now_ms()
    return reply(
        {
            "USER_ID": USER_ID,
            "USER_NAME": USER_NAME,
            "RESULT": True,
            "AUTH_TIME": now - 60_000,
            "SF_ENABLED": False,
            "IS_FREE_TRIAL": False,
            "CREDENTIAL": USER_NAME,
            "IP": "127.0.0.1",
            "EXPIRES": SSO_LIFETIME_MS,
            "QUALIFIED_FOR_MOBILE_AUTH": None,
            "LANDING_APP": "UNIVERSAL",
            "IS_MASTER": False,
            "lastAccessed": now,
            "LOGIN_TYPE": 2,
            "PAPER_USER_NAME": USER_NAME,
            "features": {
                "env": "PROD",
                "wlms": True,
                "realtime": True,
                "bond": True,
                "optionChains": True,
                "calendar": True,
                "newMf": True,
            },
            "region": "NJ",
        }
    )


async def logout(api: Api, request: Request, body: Any) -> Response:
    api.state.session.logout()
    api.state.emit("logout", None)
    return reply({"status": True})


async def hmds_init(api: Api, request: Request, body: Any) -> Response:
    return reply({"authenticated": True})


async def iserver_accounts(api: Api, request: Request, body: Any) -> Response:
    api.state.session.accounts_called = True
    return reply(api.state.iserver_accounts())


async def switch_account(api: Api, request: Request, body: Any) -> Response:
    acct = str(body_dict(body).get("acctId") or "")
    state = api.state
    if acct not in state.accounts:
        return error(f"Bad Request: unknown acctId {acct!r}", 400)
    if acct == state.session.selected_account:
        return reply({"set": True, "acctId": acct})
    state.session.selected_account = acct
    return reply({"set": True, "acctId": acct})


ENDPOINTS = [
    Endpoint(("GET", "POST"), "/iserver/auth/status", auth_status, layer="sso"),
    Endpoint(("GET", "POST"), "/tickle", tickle, layer="sso"),
    Endpoint(("POST",), "/iserver/auth/ssodh/init", ssodh_init, layer="sso"),
    Endpoint(("GET", "POST"), "/iserver/reauthenticate", reauthenticate, layer="sso"),
    Endpoint(("GET",), "/sso/validate", sso_validate, layer="sso"),
    Endpoint(("POST",), "/logout", logout, layer="sso"),
    Endpoint(("POST",), "/hmds/auth/init", hmds_init, layer="sso"),
    Endpoint(("GET",), "/iserver/accounts", iserver_accounts),
    Endpoint(("POST",), "/iserver/account", switch_account, needs_accounts=True),
]
