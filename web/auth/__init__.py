"""Operator authentication: passwords, sessions, API tokens, CSRF, TOTP and throttling.

Other parts call :func:`web.auth.context.authenticate` / :func:`web.auth.context.require`
and register revocation hooks with :func:`web.auth.sessions.on_sessions_revoked`.
"""
