"""Image sources: a Docker engine, a docker-archive tar, an OCI layout, another registry."""
