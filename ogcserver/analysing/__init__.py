"""The analysis role: jobs cut into chunks and run on a Dask cluster (products, zonal
statistics, seeding), each chunk computed by a worker through its own core."""
