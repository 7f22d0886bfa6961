"""The Qt layer: the live inspection window and its panels. Everything else in ``app`` is Qt-free."""
