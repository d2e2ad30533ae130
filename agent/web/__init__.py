"""The web approval queue: FastAPI + Jinja2, plain forms with POST-redirect-GET, no JavaScript needed."""
