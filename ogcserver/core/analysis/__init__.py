"""Analysis: a layer's values (or a chain's) computed over an area in independent chunks, and
zonal statistics; protocol-free, run by the batch runner on a cluster's workers."""
