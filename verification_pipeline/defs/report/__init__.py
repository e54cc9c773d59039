"""The signed HTML report of an RC."""
