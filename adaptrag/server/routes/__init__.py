"""The API's routes, one router per resource: answers, ingest, catalog, health."""
