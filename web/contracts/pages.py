"""The pages routes: their bodies and their declarations."""

from __future__ import annotations

from web.operation import BROWSER_READ, PUBLIC, Answer, Operation, Param

# GET /
HOME = Operation(
    method="get",
    operation_id="home",
    summary="Home: 303 to /inbox (signed in) or /login",
    tags=("pages",),
    security=PUBLIC,
    answers={303: Answer("Redirect.", headers={"Location": {"schema": {"type": "string"}}})},
)


# GET /login
LOGIN_PAGE = Operation(
    method="get",
    operation_id="loginPage",
    summary="Sign-in page",
    tags=("pages",),
    security=PUBLIC,
    answers={
        200: Answer("HTML page.", body=str, media_type="text/html"),
        303: Answer("Redirect (to /inbox when signed in, else /login)."),
    },
)


# GET /signup
SIGNUP_PAGE = Operation(
    method="get",
    operation_id="signupPage",
    summary="Sign-up page",
    tags=("pages",),
    security=PUBLIC,
    answers={
        200: Answer("HTML page.", body=str, media_type="text/html"),
        303: Answer("Redirect (to /inbox when signed in, else /login)."),
    },
)


# GET /inbox
INBOX_PAGE = Operation(
    method="get",
    operation_id="inboxPage",
    summary="The operator inbox",
    tags=("pages",),
    security=PUBLIC,
    answers={
        200: Answer("HTML page.", body=str, media_type="text/html"),
        303: Answer("Redirect (to /inbox when signed in, else /login)."),
    },
)


# GET /settings
SETTINGS_PAGE = Operation(
    method="get",
    operation_id="settingsPage",
    summary="Operator settings page (2FA, tokens, channels)",
    tags=("pages",),
    security=PUBLIC,
    answers={
        200: Answer("HTML page.", body=str, media_type="text/html"),
        303: Answer("Redirect (to /inbox when signed in, else /login)."),
    },
)


# GET /flows
FLOWS_PAGE = Operation(
    method="get",
    operation_id="flowsPage",
    summary="The Studio: flows page (list, canvas, step forms, try it)",
    tags=("pages",),
    security=PUBLIC,
    answers={
        200: Answer("HTML page.", body=str, media_type="text/html"),
        303: Answer("Redirect to /login when signed out."),
    },
)


# GET /settings/2fa/qr.svg
TWOFA_QR = Operation(
    method="get",
    operation_id="twofaQr",
    summary="QR code of the pending TOTP secret (session cookie)",
    tags=("pages",),
    security=BROWSER_READ,
    answers={
        200: Answer("SVG, never cached.", body=str, media_type="image/svg+xml"),
        401: Answer("Not signed in (empty body)."),
        404: Answer("No pending TOTP setup (empty body)."),
    },
)


# GET /static/{path}
STATIC = Operation(
    method="get",
    operation_id="static",
    summary="Static assets of the pages",
    tags=("pages",),
    security=PUBLIC,
    params=(Param("path", where="path", required=True),),
    answers={200: Answer("The file."), 404: Answer("No such file.")},
)
