"""Thin, set-based, idempotent Prefect tasks: open a session, call one service, return counts/ids."""
