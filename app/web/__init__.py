"""The web interface: server-rendered pages, a face over the same services as the API routes."""
