"""The scan pipeline above runtime, photos and evidence, driven by the CLI and the app.

``types`` holds ScanOptions/ScanResult/ScanStats, ``pipeline`` the Scanner,
``output`` the CSV/JSON/GeoJSON writers of scan results.
"""
