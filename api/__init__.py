"""The JSON API under /api (described at /openapi.json)."""
