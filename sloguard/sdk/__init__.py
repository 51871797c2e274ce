"""The agent side: metrics, recorder, trace model, steps, decorators (prometheus_client only)."""
