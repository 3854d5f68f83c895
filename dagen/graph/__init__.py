"""The column graph layer: what depends on what."""

from dagen.graph.column_graph import ColumnGraph

__all__ = ["ColumnGraph"]
