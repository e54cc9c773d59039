"""What the Dagster instance recorded: the latest materialization of one asset for one RC.

(Not `records.py`, the typed values assets hand each other: these are Dagster's event records.)
"""

import dagster as dg


def latest_record(
    instance: dg.DagsterInstance, asset: dg.AssetKey, partition: str | None
) -> dg.EventLogRecord | None:
    """The newest materialization record of `asset` (for `partition`, when the asset is partitioned)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=asset, asset_partitions=[partition] if partition is not None else None
        ),
        limit=1,
    ).records
    return records[0] if records else None


def materialization(record: dg.EventLogRecord) -> dg.AssetMaterialization:
    """The materialization in a record from `latest_record` (Dagster types it Optional)."""
    mat = record.asset_materialization
    if mat is None:
        raise RuntimeError(f"Dagster event record {record.storage_id} holds no materialization")
    return mat
