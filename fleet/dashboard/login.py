"""Dashboard log-in: an API key in a form becomes an HttpOnly, SameSite=Strict cookie."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from fleet.auth.guard import SESSION_COOKIE, resolve_key

COOKIE_MAX_AGE_S = 12 * 3600
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def to_login(_request: Request[Any, Any, Any], _exc: Exception) -> Response[Any]:
    """Send a browser without a valid session to the log-in page."""
    return Redirect(path="/ui/login")


class DashboardLogin(Controller):
    """Log in and out; the only dashboard routes without the guard."""

    path = "/ui"
    include_in_schema = False

    @get("/login")
    async def login_form(self) -> Template:
        """The log-in form."""
        return Template(template_name="login.html", context={"me": None})

    @post("/login", status_code=303)
    async def login(self, state: State, data: Form) -> Response[Any]:
        """Check the key; on success set the session cookie and go to the overview."""
        key = data.get("key", "").strip()
        principal = (
            await resolve_key(key, sessions=state.sessions, admin_key=state.get("admin_key"))
            if key
            else None
        )
        if principal is None:
            return Template(
                template_name="login.html",
                context={"me": None, "error": "unknown or revoked key"},
                status_code=401,
            )
        secure = bool(state.get("cookie_secure"))
        cookie = Cookie(key=SESSION_COOKIE, value=key, httponly=True, samesite="strict",
                        max_age=COOKIE_MAX_AGE_S, path="/", secure=secure)  # fmt: skip
        return Redirect(path="/ui/", cookies=[cookie])

    @post("/logout", status_code=303)
    async def logout(self) -> Response[Any]:
        """Forget the session cookie."""
        return Redirect(
            path="/ui/login", cookies=[Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/")]
        )
