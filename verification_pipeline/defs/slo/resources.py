"""The SLOs an RC is judged by, and the fan-out delivery gate."""

from pathlib import Path

import dagster as dg

from verification_pipeline.slo.document import DEFAULT_MIN_DELIVERY_RATIO
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH, SloSpec, load_slo_spec


class SloResource(dg.ConfigurableResource):
    """Where slos.yaml is (empty: the seed's five SLOs) and the lowest delivery ratio that passes."""

    slos_file: str = ""
    min_delivery_ratio: float = DEFAULT_MIN_DELIVERY_RATIO

    def path(self) -> Path:
        return Path(self.slos_file) if self.slos_file else DEFAULT_SLOS_PATH

    def spec(self) -> SloSpec:
        return load_slo_spec(self.path().read_bytes(), source=str(self.path()))
