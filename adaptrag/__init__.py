"""The application layer: the `adaptrag` command and the HTTP server.

It sits above the four packages of the product (`rag`, `ingest`, `adapters`, `eval`) and
is the only place that imports more than one of them to serve a user; none of them imports
it (tests/test_layers.py keeps it so). Apps embed `rag.Pipeline` instead.
"""
