"""The account pages (invitation, reset, forgotten password, profile) and the reports page."""

from __future__ import annotations

from web.operation import PUBLIC, Answer, Operation, Param

# GET /invite/{token}
INVITE_PAGE = Operation(
    method="get",
    operation_id="invitePage",
    summary="Accept an invitation (name and password)",
    tags=("pages",),
    security=PUBLIC,
    params=(Param("token", where="path", required=True),),
    answers={
        200: Answer("HTML page.", body=str, media_type="text/html"),
        410: Answer(
            "HTML page saying the link is expired, used or unknown.",
            body=str,
            media_type="text/html",
        ),
    },
)


# GET /reset/{token}
RESET_PAGE = Operation(
    method="get",
    operation_id="resetPage",
    summary="Set a new password from a reset link",
    tags=("pages",),
    security=PUBLIC,
    params=(Param("token", where="path", required=True),),
    answers={
        200: Answer("HTML page.", body=str, media_type="text/html"),
        410: Answer(
            "HTML page saying the link is expired, used or unknown.",
            body=str,
            media_type="text/html",
        ),
    },
)


# GET /forgot
FORGOT_PAGE = Operation(
    method="get",
    operation_id="forgotPage",
    summary="Ask for a password-reset link",
    tags=("pages",),
    security=PUBLIC,
    answers={200: Answer("HTML page.", body=str, media_type="text/html")},
)


# GET /profile
PROFILE_PAGE = Operation(
    method="get",
    operation_id="profilePage",
    summary="Your profile: redirects to Settings → Profile",
    tags=("pages",),
    security=PUBLIC,
    answers={303: Answer("Redirect to /settings?tab=profile.")},
)


# GET /reports
REPORTS_PAGE = Operation(
    method="get",
    operation_id="reportsPage",
    summary="Reports page: customer satisfaction (CSAT) per operator and team",
    tags=("pages",),
    security=PUBLIC,
    answers={
        200: Answer("HTML page.", body=str, media_type="text/html"),
        303: Answer("Redirect (to /inbox when signed in, else /login)."),
    },
)
