"""Views of one trace for people: Mermaid, sequence text, SVG and the indented text tree. Pure.

Owns rendering only. May import: ``sloguard.analysis`` (the call tree), ``conventions``.
"""
