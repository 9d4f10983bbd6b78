"""The dashboard: server-rendered pages (Jinja2) over the same services and guard as the API."""
