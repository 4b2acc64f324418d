"""Invitations and password reset: their bodies and their declarations."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from web.auth import passwords
from web.contracts.account import Account
from web.operation import (
    NOT_FOUND,
    PUBLIC,
    ROLE_FORBIDDEN,
    UNAUTHORIZED,
    WRITE,
    Answer,
    Fault,
    Operation,
    Param,
)

Email = Annotated[str, Meta(min_length=3, max_length=320)]


Name = Annotated[str, Meta(min_length=1, max_length=200)]


NewPassword = Annotated[str, Meta(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)]


LinkToken = Annotated[str, Meta(min_length=1, max_length=200)]


class NewInvite(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    role: Literal["owner", "admin", "agent"] = "agent"


class AcceptInvite(msgspec.Struct, forbid_unknown_fields=True):
    token: LinkToken
    name: Name
    password: NewPassword


class InviteOut(msgspec.Struct):
    id: str
    email: str
    role: str
    expires_at: str
    created_at: str
    url: str | None = None  # only when just created: the token is not kept
    mailed: bool | None = None


class ResetRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, Meta(min_length=3, max_length=320)]


class ResetConfirm(msgspec.Struct, forbid_unknown_fields=True):
    token: LinkToken
    password: NewPassword
    otp: Annotated[str, Meta(max_length=64)] | None = None


class ResetLinkOut(msgspec.Struct):
    url: str
    expires_at: str


class ListInvitesReply(msgspec.Struct):
    items: list[InviteOut]
    next_cursor: str | None


class RequestPasswordResetReply(msgspec.Struct):
    detail: str


# POST /api/invites
CREATE_INVITE = Operation(
    method="post",
    operation_id="createInvite",
    summary="Invite someone by email (managers; only an owner invites an owner)",
    tags=("account",),
    security=WRITE,
    body=NewInvite,
    answers={
        201: Answer(
            "The invitation with its `url` (shown once) and whether it was `mailed`.",
            body=InviteOut,
        )
    },
    faults=(
        UNAUTHORIZED,
        ROLE_FORBIDDEN,
        Fault(409, "email_taken", "An operator with this email already exists."),
        Fault(
            422, "invalid", "A field is missing or invalid; `problems` lists every field's problem."
        ),
    ),
)


# GET /api/invites
LIST_INVITES = Operation(
    method="get",
    operation_id="listInvites",
    summary="Pending invitations (managers)",
    tags=("account",),
    security=WRITE,
    answers={200: Answer("`{items: [invite]}` (no urls).", body=ListInvitesReply)},
    faults=(
        UNAUTHORIZED,
        ROLE_FORBIDDEN,
    ),
)


# POST /api/invites/accept
ACCEPT_INVITE = Operation(
    method="post",
    operation_id="acceptInvite",
    summary="Accept an invitation: a new operator, signed in on this browser",
    tags=("account",),
    security=PUBLIC,
    body=AcceptInvite,
    answers={
        201: Answer(
            "The operator, workspace and CSRF token; sets the session cookie.", body=Account
        )
    },
    faults=(
        Fault(409, "email_taken", "An operator with this email already exists."),
        Fault(
            410, "link_unusable", "The link is unknown, expired or already used (`link_unusable`)."
        ),
        Fault(
            422, "invalid", "A field is missing or invalid; `problems` lists every field's problem."
        ),
        Fault(429, "rate_limited", "Too many requests; see Retry-After."),
        Fault(
            403, "csrf", "Sent from another site (`csrf`): links are used from the hub's own pages."
        ),
    ),
)


# DELETE /api/invites/{invite_id}
WITHDRAW_INVITE = Operation(
    method="delete",
    operation_id="withdrawInvite",
    summary="Withdraw a pending invitation (managers)",
    tags=("account",),
    security=WRITE,
    params=(Param("invite_id", where="path", required=True),),
    answers={204: Answer("Done; no body.")},
    faults=(
        UNAUTHORIZED,
        ROLE_FORBIDDEN,
        NOT_FOUND,
    ),
)


# POST /api/password-reset
REQUEST_PASSWORD_RESET = Operation(
    method="post",
    operation_id="requestPasswordReset",
    summary="Ask for a password-reset mail (the same answer whatever the email)",
    tags=("account",),
    security=PUBLIC,
    body=ResetRequest,
    answers={
        202: Answer(
            "`{detail}`: the same sentence for every address.", body=RequestPasswordResetReply
        )
    },
    faults=(
        Fault(
            422, "invalid", "A field is missing or invalid; `problems` lists every field's problem."
        ),
        Fault(429, "rate_limited", "Too many requests; see Retry-After."),
        Fault(
            403, "csrf", "Sent from another site (`csrf`): links are used from the hub's own pages."
        ),
    ),
)


# POST /api/password-reset/confirm
CONFIRM_PASSWORD_RESET = Operation(
    method="post",
    operation_id="confirmPasswordReset",
    summary="Set a new password with a reset link; the operator's sessions and API tokens end",
    tags=("account",),
    security=PUBLIC,
    body=ResetConfirm,
    answers={204: Answer("Done; no body.")},
    faults=(
        Fault(
            410, "link_unusable", "The link is unknown, expired or already used (`link_unusable`)."
        ),
        Fault(
            422,
            "invalid",
            "A field is invalid, or `otp_required` / `invalid_otp` when the operator has 2FA.",
        ),
        Fault(429, "rate_limited", "Too many requests; see Retry-After."),
        Fault(
            403, "csrf", "Sent from another site (`csrf`): links are used from the hub's own pages."
        ),
    ),
)


# POST /api/operators/{operator_id}/reset-link
CREATE_RESET_LINK = Operation(
    method="post",
    operation_id="createResetLink",
    summary="A password-reset link to hand over (managers; an owner's only by an owner)",
    tags=("account",),
    security=WRITE,
    params=(Param("operator_id", where="path", required=True),),
    answers={201: Answer("The link and when it expires.", body=ResetLinkOut)},
    faults=(
        UNAUTHORIZED,
        ROLE_FORBIDDEN,
        NOT_FOUND,
        Fault(409, "operator_disabled", "The operator is disabled."),
    ),
)
