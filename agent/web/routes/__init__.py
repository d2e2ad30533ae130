"""The web app's routes, one APIRouter per area; :func:`agent.web.app.create_app` includes them."""
