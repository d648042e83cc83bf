"""OGC API - Processes - Part 1: Core, over the analysis jobs."""
