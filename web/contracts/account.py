"""The account routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from web.contracts.common import Operator, Workspace
from web.operation import (
    BODY_FAULTS,
    BROWSER_WRITE,
    FORBIDDEN,
    NOT_FOUND,
    PUBLIC,
    UNAUTHORIZED,
    WRITE,
    Answer,
    Fault,
    Operation,
    Param,
)


class Account(msgspec.Struct):
    operator: Operator
    workspace: Workspace
    csrf_token: Annotated[
        str | None,
        Meta(description="Send as X-CSRF-Token on unsafe requests (null for bearer tokens)."),
    ]
    must_enable_2fa: (
        Annotated[
            bool,
            Meta(description="The workspace requires 2FA and this operator has not enabled it."),
        ]
        | UnsetType
    ) = UNSET


Name = Annotated[str, Meta(min_length=1, max_length=200)]
Code = Annotated[str, Meta(min_length=1, max_length=64, description="TOTP code or a backup code.")]
# A password typed to prove who one is: only compared with a hash, so no length rules.
GivenPassword = Annotated[str, Meta(min_length=1, extra_json_schema={"writeOnly": True})]


class SignupBody(msgspec.Struct):
    """A new workspace and its owner."""

    keep_space: ClassVar[frozenset[str]] = frozenset({"password"})
    workspace: Name
    name: Name
    email: Annotated[str, Meta(extra_json_schema={"format": "email"})]
    password: Annotated[str, Meta(min_length=10, max_length=1024)]


class LoginBody(msgspec.Struct):
    """Credentials; ``otp`` only when the operator has 2FA on."""

    keep_space: ClassVar[frozenset[str]] = frozenset({"password"})
    email: Annotated[str, Meta(min_length=1, max_length=320)]
    password: GivenPassword
    otp: Code | UnsetType | None = UNSET
    restore_workspace: Annotated[
        bool,
        Meta(
            description="The owner of a workspace deleted within its recovery period restores it by signing in with this."
        ),
    ] = False


class ChangePasswordBody(msgspec.Struct):
    """The password in use (checked as typed) and the new one."""

    keep_space: ClassVar[frozenset[str]] = frozenset({"current_password", "new_password"})
    current_password: Annotated[str, Meta(extra_json_schema={"writeOnly": True})]
    new_password: Annotated[str, Meta(min_length=10, max_length=1024)]


class TwofaSetupReply(msgspec.Struct):
    secret: str
    otpauth_uri: str
    backup_codes: list[str]


class TwofaEnableBody(msgspec.Struct):
    """The current code of the authenticator app set up by ``/api/2fa/setup``."""

    otp: Code


class TwofaDisableBody(msgspec.Struct):
    """A current code and the password: both prove the operator turns 2FA off."""

    keep_space: ClassVar[frozenset[str]] = frozenset({"password"})
    otp: Code
    password: GivenPassword


class Token(msgspec.Struct):
    id: str
    name: str
    operator_id: str
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    last_used_at: (
        Annotated[str, Meta(extra_json_schema={"format": "date-time"})] | UnsetType | None
    ) = UNSET


class CreateTokenBody(msgspec.Struct):
    """A name for the token, to tell it apart in the list."""

    name: Name


class ListTokensReply(msgspec.Struct):
    items: list[Token]
    next_cursor: str | None


class OperatorExport(msgspec.Struct):
    """What the hub holds about the signed-in operator; never a password hash, TOTP secret, backup code, session or token hash."""

    format: Literal["inviaro.operator-export/1"]
    exported_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    workspace: dict[str, Any]
    operator: dict[str, Any]
    sessions: list[dict[str, Any]]
    api_tokens: list[dict[str, Any]]
    audit: Annotated[
        list[dict[str, Any]], Meta(description="Entries by or about the operator, newest first.")
    ]
    messages: Annotated[
        list[dict[str, Any]], Meta(description="Messages the operator wrote, oldest first.")
    ]


# POST /api/signup
SIGNUP = Operation(
    method="post",
    operation_id="signup",
    summary="Create a workspace and its owner",
    tags=("account",),
    security=PUBLIC,
    body=SignupBody,
    answers={
        201: Answer(
            "The operator, workspace and CSRF token; sets the session cookie (HttpOnly, SameSite=Lax).",
            body=Account,
            headers={
                "Set-Cookie": {"schema": {"type": "string"}, "description": "The session cookie."}
            },
        )
    },
    faults=(
        Fault(409, "email_taken", "An operator with this email already exists."),
        *BODY_FAULTS,
        Fault(422, "invalid", "A field is missing or invalid; `detail` names it."),
    ),
)


# POST /api/login
LOGIN = Operation(
    method="post",
    operation_id="login",
    summary="Sign in (issues a new session id)",
    tags=("account",),
    security=PUBLIC,
    description="With `restore_workspace: true`, the owner of a workspace deleted within the recovery period (90 days) restores it and signs in; without it such an owner is answered 403 `workspace_deleted` with `restorable_until`.",
    body=LoginBody,
    answers={
        200: Answer(
            "The operator, workspace and CSRF token; sets the session cookie (HttpOnly, SameSite=Lax).",
            body=Account,
            headers={
                "Set-Cookie": {"schema": {"type": "string"}, "description": "The session cookie."}
            },
        )
    },
    faults=(
        Fault(
            401,
            "invalid_credentials",
            "`invalid_credentials` (wrong email or password), or `otp_required` (2FA is on: send `otp`; a wrong or reused code answers this too).",
        ),
        Fault(
            403,
            "workspace_deleted",
            "`workspace_deleted`: your workspace was deleted; as its owner, sign in with `restore_workspace: true` to restore it.",
        ),
        Fault(429, "rate_limited", "Too many failed sign-ins; see Retry-After."),
        *BODY_FAULTS,
        Fault(422, "invalid", "A field is missing or invalid; `detail` names it."),
    ),
)


# POST /api/logout
LOGOUT = Operation(
    method="post",
    operation_id="logout",
    summary="Sign out; the session is revoked server-side",
    tags=("account",),
    security=BROWSER_WRITE,
    answers={204: Answer("Done; no body.")},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# GET /api/me
ME = Operation(
    method="get",
    operation_id="me",
    summary="The signed-in operator, workspace and CSRF token",
    tags=("account",),
    answers={200: Answer("The account.", body=Account)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# POST /api/password
CHANGE_PASSWORD = Operation(
    method="post",
    operation_id="changePassword",
    summary="Change password (ends every session, opens a new one)",
    tags=("account",),
    security=BROWSER_WRITE,
    body=ChangePasswordBody,
    answers={
        200: Answer(
            "The operator, workspace and CSRF token; sets the session cookie (HttpOnly, SameSite=Lax).",
            body=Account,
            headers={
                "Set-Cookie": {"schema": {"type": "string"}, "description": "The session cookie."}
            },
        )
    },
    faults=(
        Fault(
            422,
            "invalid_password",
            "`invalid_password` (current password wrong) or `invalid` (new password too short/long).",
        ),
        UNAUTHORIZED,
        FORBIDDEN,
        *BODY_FAULTS,
    ),
)


# POST /api/2fa/setup
TWOFA_SETUP = Operation(
    method="post",
    operation_id="twofaSetup",
    summary="Start TOTP setup",
    tags=("account",),
    security=BROWSER_WRITE,
    answers={
        200: Answer(
            "The secret, its otpauth URI (for a QR code) and ten backup codes, shown once; they work after /api/2fa/enable.",
            body=TwofaSetupReply,
        )
    },
    faults=(
        Fault(409, "2fa_enabled", "2FA is already enabled."),
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# POST /api/2fa/enable
TWOFA_ENABLE = Operation(
    method="post",
    operation_id="twofaEnable",
    summary="Enable TOTP with a current code (accepted once only)",
    tags=("account",),
    security=BROWSER_WRITE,
    body=TwofaEnableBody,
    answers={204: Answer("Done; no body.")},
    faults=(
        Fault(409, "2fa_not_set_up", "`2fa_enabled` or `2fa_not_set_up`."),
        UNAUTHORIZED,
        FORBIDDEN,
        *BODY_FAULTS,
        Fault(422, "invalid_otp", "`invalid_otp` (wrong or reused) or `invalid`."),
    ),
)


# POST /api/2fa/disable
TWOFA_DISABLE = Operation(
    method="post",
    operation_id="twofaDisable",
    summary="Disable TOTP",
    tags=("account",),
    security=BROWSER_WRITE,
    body=TwofaDisableBody,
    answers={204: Answer("Done; no body.")},
    faults=(
        Fault(409, "2fa_not_enabled", "2FA is not enabled."),
        UNAUTHORIZED,
        FORBIDDEN,
        *BODY_FAULTS,
        Fault(422, "invalid_otp", "`invalid_password`, `invalid_otp` or `invalid`."),
    ),
)


# POST /api/tokens
CREATE_TOKEN = Operation(
    method="post",
    operation_id="createToken",
    summary="Create an API token acting as you",
    tags=("account",),
    security=BROWSER_WRITE,
    body=CreateTokenBody,
    answers={
        201: Answer(
            "The token; `token` is shown this once (only its hash is kept).",
            body=Annotated[
                Any,
                Meta(
                    extra_json_schema={
                        "allOf": [
                            {"$ref": "#/components/schemas/Token"},
                            {
                                "type": "object",
                                "properties": {"token": {"type": "string"}},
                                "required": ["token"],
                            },
                        ]
                    }
                ),
            ],
        )
    },
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        *BODY_FAULTS,
        Fault(422, "invalid", "A field is missing or invalid; `detail` names it."),
    ),
)


# GET /api/tokens
LIST_TOKENS = Operation(
    method="get",
    operation_id="listTokens",
    summary="Your live API tokens",
    tags=("account",),
    answers={200: Answer("Tokens (never their values).", body=ListTokensReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# DELETE /api/tokens/{token_id}
REVOKE_TOKEN = Operation(
    method="delete",
    operation_id="revokeToken",
    summary="Revoke an API token (yours; owners and admins: anyone's)",
    tags=("account",),
    security=WRITE,
    params=(Param("token_id", where="path", required=True),),
    answers={204: Answer("Done; no body.")},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# GET /api/me/export
EXPORT_ME = Operation(
    method="get",
    operation_id="exportMe",
    summary="Download your own data (account, sessions, tokens, audit entries by or about you, messages you wrote) as one JSON document",
    tags=("account",),
    answers={200: Answer("The document, as an attachment.", body=OperatorExport)},
    faults=(UNAUTHORIZED,),
)
