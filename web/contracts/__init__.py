"""Each area's request and response bodies and its routes' declarations (web.operation)."""
