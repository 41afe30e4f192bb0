"""winback: the domain of the dealership win-back process (no Prefect, no FastAPI here)."""
