"""The daemon's HTTP surface: the FastAPI app, SLO and trace APIs, and the web page.

Owns ``server`` (the app and its health routes), ``sloapi`` (``/api/v1/slos``, ``/alerts``),
``tracesapi`` (``/api/v1/traces`` …), ``historyapi`` (``/api/v1/slos/{name}/history``, its chart
drawn by ``charts``) and ``ui`` (``/ui/``). May import every package below it.
"""
