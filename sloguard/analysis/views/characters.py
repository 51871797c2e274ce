"""Characters a view cannot show, replaced: names and errors in traces are anyone's text.

Pure. XML 1.0 has no way to write most control characters (not even as ``&#1;``), nor the
surrogates or U+FFFE and U+FFFF: one of them in an SVG makes the whole document not
well-formed, and the browser shows nothing. On a terminal, control characters (ESC, C1) move the
cursor or restyle the screen. :func:`printable` replaces each of them with U+FFFD (``�``), so
every view shows the rest of the text; tab, line feed and carriage return are left for the
views to fold into spaces.

Example::

    printable("agent\\x01\\uffff")   # 'agent��'
"""

from __future__ import annotations

import re

__all__ = ["REPLACEMENT", "printable"]

REPLACEMENT = "\ufffd"
#: C0 controls but tab, LF and CR; DEL and the C1 controls; surrogates; U+FFFE and U+FFFF.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """Return ``text`` with every character no view can show replaced by U+FFFD."""
    return _UNPRINTABLE.sub(REPLACEMENT, text)
