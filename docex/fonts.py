"""The Chinese font put into the PDFs and charts people read (printed copies, the report's
chart): a TrueType CJK font Debian ships, embedded, so a reader needs no font of their own.
(The router's paper notices keep their own list in docex/router/paper.py.)"""

from __future__ import annotations

import functools
from pathlib import Path

# (path, index of the face in a collection), best first.
CJK_FONTS = (
    (Path("/usr/share/fonts/truetype/arphic/uming.ttc"), 0),  # fonts-arphic-uming (Song)
    (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0),  # fonts-wqy-microhei
    (Path("/usr/share/fonts/truetype/arphic/ukai.ttc"), 0),  # fonts-arphic-ukai
)
_NAME = "docex-cjk"


class NoCjkFont(Exception):
    pass


def cjk_font_file() -> tuple[Path, int]:
    for path, index in CJK_FONTS:
        if path.is_file():
            return path, index
    looked = ", ".join(str(path) for path, _ in CJK_FONTS)
    raise NoCjkFont(
        f"no Chinese TrueType font found (looked for {looked}); install one: apt-get install"
        " fonts-arphic-uming"
    )


@functools.cache
def reportlab_cjk_font() -> str:
    """Register the font with reportlab once per process; returns its name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    path, index = cjk_font_file()
    pdfmetrics.registerFont(TTFont(_NAME, str(path), subfontIndex=index))
    return _NAME
