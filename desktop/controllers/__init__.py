"""The app's controllers: each owns one part of the state and emits signals.

``ModelController`` (which bundle, where it runs, the loaded predictor),
``ScanController`` (the running scan and its progress), ``ReviewController``
(the photos and their decisions), ``WriteController`` (writes and undo) and
``ImageFeeder`` (thumbnails and previews). The main window builds widgets and
connects these; none of them touches a widget.
"""
