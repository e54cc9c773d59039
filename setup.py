"""The one compiled part of the package: the k6 NDJSON chunk scanner (everything else: pyproject.toml)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "verification_pipeline.loadtest.ingest._k6scan",
            sources=["verification_pipeline/loadtest/ingest/_k6scan.c"],
            extra_compile_args=["-O3", "-std=c11", "-Wall"],
        )
    ]
)
