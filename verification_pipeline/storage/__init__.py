"""Object storage: an S3 client with checksums, and the serialization the IO manager uses."""
