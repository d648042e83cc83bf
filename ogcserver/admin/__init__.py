"""Administration of a running server: its configuration file, layers, catalog, cache and seeds.

Reached over HTTP through ``/admin`` (``web/admin.py``) by callers granted "admin". Every change
of configuration goes one way: edit the file's document, validate it exactly as
``ogcserver validate-config`` does, write it atomically (the previous file kept as a backup),
and ask the server's main process to reload it.
"""
