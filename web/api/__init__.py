"""The operators' JSON API under ``/api``, one module per group of resources."""
