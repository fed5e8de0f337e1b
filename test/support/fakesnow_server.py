"""Launches fakesnow's HTTP server for the Node tests (test/support/fakesnow.ts).

usage: python fakesnow_server.py --host 127.0.0.1 --port PORT [--db-path DIR]

Two things differ from `fakesnow -s`:

1. --db-path: fakesnow's server mode keeps every database in memory. With --db-path, the shared instance
   is created with FakeSnow(db_path=DIR), so each database lives in DIR/<DATABASE>.db (a DuckDB file) and
   survives a stop/start of the server.

2. JSON result sets. fakesnow answers a SELECT with an Arrow IPC row set (`queryResultFormat: arrow`,
   `rowsetBase64`), which the Python connector reads. The Node.js driver (snowflake-sdk) cannot read
   Arrow: it only understands Snowflake's JSON result format (`rowset`: an array of rows, every value a
   string or null, in Snowflake's JSON encodings). This launcher wraps fakesnow's query handler: when a
   response carries an Arrow row set, the same rows (taken from the DuckDB result before fakesnow encoded
   them) are re-encoded as a JSON `rowset` with `queryResultFormat: json`. DML responses (a JSON rowset
   without `returned`) get `returned` set to the number of rows, or the Node driver waits forever.

3. DuckDB errors as SQL errors. fakesnow answers an error it did not translate (a DuckDB transaction
   conflict, a constraint violation, "transaction is aborted", an unsupported feature) with HTTP 500, which
   the Node driver retries for about a minute and then reports as a network failure. Real Snowflake reports
   a failed statement as `success: false` with an error code. Here such DuckDB errors are raised as a
   ProgrammingError (errno 000603, SQLSTATE 40001 for transaction conflicts and constraint violations,
   XX000 otherwise) so fakesnow's own error path answers `success: false` with the DuckDB message.

Nothing else in the request or response changes: SQL translation, bindings and row types are fakesnow's own.
"""

from __future__ import annotations

import argparse
import contextvars
import datetime
import decimal
import json
import logging
import signal
import sys
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

import duckdb
import snowflake.connector.errors

import fakesnow.server as fs_server
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.instance import FakeSnow
from starlette.responses import JSONResponse
from starlette.routing import Route

# The DuckDB result (before fakesnow's Arrow encoding) of the current request, per asyncio task.
_last_table: contextvars.ContextVar[tuple[pa.Table, list[dict[str, Any]]] | None] = contextvars.ContextVar(
    "fakesnow_last_table", default=None
)
_original_to_sf = fs_server.to_sf


def _recording_to_sf(table: pa.Table, rowtype: list[dict[str, Any]]) -> pa.Table:
    _last_table.set((table, rowtype))
    return _original_to_sf(table, rowtype)


fs_server.to_sf = _recording_to_sf  # type: ignore[assignment]

_original_execute = FakeSnowflakeCursor.execute


def _execute_with_sql_errors(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
    try:
        return _original_execute(self, *args, **kwargs)
    except duckdb.Error as e:
        conflict = isinstance(e, (duckdb.TransactionException, duckdb.ConstraintException))
        raise snowflake.connector.errors.ProgrammingError(
            msg=f"{type(e).__name__}: {e}", errno=603, sqlstate="40001" if conflict else "XX000"
        ) from e


FakeSnowflakeCursor.execute = _execute_with_sql_errors  # type: ignore[method-assign]

_EPOCH_DATE = datetime.date(1970, 1, 1)


def _ts_strings(col: pa.ChunkedArray) -> list[str | None]:
    """Timestamps as Snowflake's JSON encoding: epoch seconds with a 9-digit fraction ('1700000000.123456789')."""
    unit = col.type.unit
    per_sec = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
    ints = pc.cast(col, pa.int64()).to_pylist() if col.type.tz is None else pc.cast(col.cast(pa.timestamp(unit)), pa.int64()).to_pylist()
    out: list[str | None] = []
    for v in ints:
        if v is None:
            out.append(None)
            continue
        secs, frac = divmod(v, per_sec)
        nanos = frac * (1_000_000_000 // per_sec)
        s = f"{secs}.{nanos:09d}"
        # TIMESTAMP_TZ in result version 1: '<epoch.fraction> <minutes offset + 1440>' (fakesnow only has UTC)
        out.append(f"{s} 1440" if col.type.tz else s)
    return out


def _value(v: Any, sf_type: str) -> str | None:
    if v is None:
        return None
    if sf_type == "boolean":
        return "1" if v else "0"
    if sf_type == "fixed":
        if isinstance(v, decimal.Decimal):
            return format(v, "f")
        return str(int(v))
    if sf_type == "real":
        f = float(v)
        if f != f:
            return "NaN"
        if f in (float("inf"), float("-inf")):
            return "inf" if f > 0 else "-inf"
        return repr(f)
    if sf_type == "date":
        return str((v - _EPOCH_DATE).days)
    if sf_type == "time":
        return f"{v.hour * 3600 + v.minute * 60 + v.second}.{v.microsecond * 1000:09d}"
    if sf_type == "binary":
        return bytes(v).hex().upper()
    if sf_type in ("variant", "object", "array"):
        return v if isinstance(v, str) else json.dumps(v)
    return str(v)


def _json_rowset(table: pa.Table, rowtype: list[dict[str, Any]]) -> list[list[str | None]]:
    columns: list[list[str | None]] = []
    for col, info in zip(table.columns, rowtype, strict=True):
        sf_type = str(info["type"]).lower()
        if pa.types.is_timestamp(col.type):
            columns.append(_ts_strings(col))
        else:
            columns.append([_value(v, sf_type) for v in col.to_pylist()])
    return [list(r) for r in zip(*columns)] if columns else []


async def query_request_json(request):  # type: ignore[no-untyped-def]
    _last_table.set(None)
    response = await fs_server.query_request(request)
    recorded = _last_table.get()
    if not isinstance(response, JSONResponse):
        return response
    body = json.loads(response.body)
    data = body.get("data") or {}
    if data.get("queryResultFormat") == "json" and "rowset" in data and "returned" not in data:
        # DML counts come back as a JSON rowset without `returned`; the Node driver waits for that many rows
        data["returned"] = len(data["rowset"])
        return JSONResponse(body, status_code=response.status_code)
    if data.get("queryResultFormat") != "arrow":
        return response
    # no recorded table: an empty result (fakesnow skips the Arrow encoding for zero rows)
    rowset = _json_rowset(*recorded) if recorded is not None else []
    data.pop("rowsetBase64", None)
    data["queryResultFormat"] = "json"
    data["rowset"] = rowset
    data["returned"] = len(rowset)
    data["total"] = len(rowset)
    return JSONResponse(body, status_code=response.status_code)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db-path", default=None)
    args = parser.parse_args()

    import uvicorn

    if args.db_path:
        fs_server.shared_fs = FakeSnow(db_path=args.db_path)
    for i, route in enumerate(fs_server.app.router.routes):
        if isinstance(route, Route) and route.path == "/queries/v1/query-request":
            fs_server.app.router.routes[i] = Route("/queries/v1/query-request", query_request_json, methods=["POST"])

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    config = uvicorn.Config(fs_server.app, host=args.host, port=args.port, log_level="info", access_log=False)
    server = uvicorn.Server(config)

    def stop(_signum: int, _frame: object) -> None:
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.run()
    # the server did not start (port taken, ...) when it never reached `started`
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
