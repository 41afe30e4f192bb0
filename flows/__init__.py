"""Prefect flows: the stages of the monthly cycle, the daily watcher, and their launcher."""
