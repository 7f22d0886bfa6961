"""Render resources/icons/draem-inspect.svg to the icon files the packaged app needs.

    QT_QPA_PLATFORM=offscreen python packaging/make_icons.py

- ``draem-inspect.png`` (256 px): the macOS app icon (PyInstaller converts it) and the Linux desktop entry;
- ``draem-inspect.ico`` (16-256 px): the Windows executable's icon.

Run it again after changing the SVG and commit the results (the build does not need Qt's SVG renderer then).
Qt renders the SVG (it is a dependency already); Pillow, which matplotlib brings, writes the multi-size .ico.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def render_png(svg: Path, size: int) -> bytes:
    """The SVG rendered at ``size`` x ``size`` with a transparent background, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(svg)).render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def main() -> None:
    from PIL import Image

    svg = ICONS / "draem-inspect.svg"
    png = render_png(svg, 256)
    (ICONS / "draem-inspect.png").write_bytes(png)
    Image.open(io.BytesIO(png)).save(ICONS / "draem-inspect.ico", sizes=[(s, s) for s in ICO_SIZES])
    print(f"wrote {ICONS / 'draem-inspect.png'} and {ICONS / 'draem-inspect.ico'}")


if __name__ == "__main__":
    main()
