"""The camera layer: GenTL discovery, an isolated acquisition process, features and pixel formats.

Nothing here imports Qt. Importing this package is cheap; harvesters is loaded only where it is used
(discovery and the acquisition process).
"""
