"""SLI sources: where window counts come from (Prometheus, the embedded sampler, a fake)."""

from sloguard.sources.base import InstanceKey, QueryError, SLISource, WindowCounts

__all__ = ["InstanceKey", "QueryError", "SLISource", "WindowCounts"]
