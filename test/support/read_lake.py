"""Reads a multidispatch lake with pyarrow (an independent Parquet reader) and prints one JSON object per row.

usage: read_lake.py DIR_OR_S3_URL [--endpoint URL]

Hive partitions (topic=, event_type=, date=, hour=) become columns. Files of different event types have different
columns; each event type's files are read as their own dataset so no schema is unified across types. Values are
printed losslessly: integers as decimal strings, bytes as base64, timestamps as ISO-8601 UTC, maps as objects.
"""
import base64
import datetime
import json
import os
import sys

import pyarrow.dataset as ds
import pyarrow.fs as pafs


def plain(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return v
    if isinstance(v, bytes):
        return base64.b64encode(v).decode("ascii")
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return v.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        # a MAP column comes as a list of (key, value) tuples
        if v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
            return {str(k): plain(x) for k, x in v}
        return [plain(x) for x in v]
    if isinstance(v, tuple):
        return [plain(x) for x in v]
    return str(v)


def main():
    where = sys.argv[1]
    endpoint = None
    if "--endpoint" in sys.argv:
        endpoint = sys.argv[sys.argv.index("--endpoint") + 1]
    if where.startswith("s3://"):
        fs = pafs.S3FileSystem(endpoint_override=endpoint, region=os.environ.get("AWS_REGION", "us-east-1"),
                               access_key=os.environ.get("AWS_ACCESS_KEY_ID"), secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
                               scheme="http" if endpoint and endpoint.startswith("http://") else "https", force_virtual_addressing=False)
        root = where[len("s3://"):].rstrip("/")
    else:
        fs = pafs.LocalFileSystem()
        root = os.path.abspath(where)
    files = [f for f in fs.get_file_info(pafs.FileSelector(root, recursive=True))
             if f.type == pafs.FileType.File and f.base_name.endswith(".parquet") and not f.base_name.startswith(".")]
    by_type = {}
    for f in files:
        rel = f.path[len(root):].lstrip("/")
        parts = dict(p.split("=", 1) for p in rel.split("/")[:-1] if "=" in p)
        by_type.setdefault((parts.get("topic"), parts.get("event_type")), []).append(f.path)
    out = sys.stdout
    for (topic, event_type), paths in sorted(by_type.items()):
        dataset = ds.dataset(sorted(paths), filesystem=fs, format="parquet", partitioning="hive", partition_base_dir=root)
        for batch in dataset.to_batches():
            for row in batch.to_pylist():
                row["__file"] = None
                out.write(json.dumps({k: plain(v) for k, v in row.items()}, ensure_ascii=False))
                out.write("\n")
    # per-file facts: path, rows, row groups, compression of the first column
    import pyarrow.parquet as pq
    for f in sorted(files, key=lambda f: f.path):
        md = pq.ParquetFile(f.path, filesystem=fs).metadata
        comp = md.row_group(0).column(0).compression if md.num_row_groups > 0 else None
        out.write(json.dumps({"__file": f.path[len(root):].lstrip("/"), "rows": md.num_rows, "row_groups": md.num_row_groups, "compression": comp}) + "\n")


main()
