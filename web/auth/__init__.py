"""Operator authentication: passwords, sessions, API tokens, CSRF, TOTP and throttling.

Other parts call :func:`web.auth.context.authenticate` / :func:`web.auth.context.require`.
Ending sessions or tokens announces a :class:`hub.gone.Gone` (:mod:`web.gone`), which
closes their sockets on every process.
"""
