"""Entry point of ``python -m app`` and of the packaged app (PyInstaller runs this file as ``__main__``)."""

import multiprocessing
import sys

if __name__ == "__main__":
    # First thing: in a frozen app the camera acquisition process re-runs this file and must stop here.
    multiprocessing.freeze_support()

    from app.cli.main import main

    sys.exit(main())
