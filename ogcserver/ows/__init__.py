"""OGC protocols: parse requests into typed queries, call the core, format responses."""
