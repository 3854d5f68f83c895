"""The sampler run's floor: one numpy + pyarrow process writing the same six columns.

``python bench/table_floor.py RECORDS FOLDER`` draws, per 1,000-row part, what the sampler
run of ``bench/compare.py`` generates (a category, a uniform as int, a gaussian, a
bernoulli, a uuid, and the expression ``{{ city }}-{{ age }}``), and writes each part as
zstd parquet, as dagen's parquet sink does. No Dask, no config, no checks: its wall time
(interpreter start included) is what this machine needs for the data itself.

Example:
    $ python bench/table_floor.py 100000 /tmp/floor
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

PART = 1000
CITIES = pa.array(["Oslo", "Lima", "Pune", "Kyoto", "Accra"])


def part(rng: np.random.Generator, rows: int) -> pa.Table:
    """One part's six columns."""
    city = CITIES.take(pa.array(rng.integers(0, len(CITIES), rows)))
    age = pa.array(np.floor(rng.uniform(18, 90, rows)).astype(np.int64))
    raw = rng.bytes(16 * rows)
    ids = pa.array(
        [str(uuid.UUID(bytes=raw[i : i + 16], version=4)) for i in range(0, 16 * rows, 16)]
    )
    return pa.table(
        {
            "city": city,
            "age": age,
            "score": pa.array(rng.normal(50, 10, rows)),
            "member": pa.array(rng.random(rows) < 0.3),
            "id": ids,
            "label": pc.binary_join_element_wise(city, pc.cast(age, pa.string()), "-"),
        }
    )


def main() -> int:
    records, folder = int(sys.argv[1]), Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for index, start in enumerate(range(0, records, PART)):
        table = part(rng, min(PART, records - start))
        pq.write_table(table, folder / f"part-{index:06d}.parquet", compression="zstd")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
