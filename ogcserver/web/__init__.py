"""HTTP: Flask routes, request parameters in, OGC responses out, with logs and metrics."""
