"""Serving: the Flask app (web/), gunicorn and its worker, metrics and logs; it turns HTTP into service calls
and back. The top layer with cli and evaluation: it may use everything below, nothing below uses it."""
