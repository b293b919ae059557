"""app/repository_pg.py against PostgreSQL (argv[1]: DSN of a database the
migration was applied to): for every resource table, create (from the
OpenAPI create example, through the app's pydantic model), conflict, get,
update, list, delete; for every event table, record_event of an example.
Run from the workspace root."""
import asyncio
import datetime
import json
import pathlib
import sys

sys.path.insert(0, ".")
import yaml  # noqa: E402

from app import models  # noqa: E402
from app.repository import Conflict  # noqa: E402
from app.repository_pg import COLUMNS, EVENT_TABLES, PgRepository  # noqa: E402

doc = yaml.safe_load(open("openapi.yaml", encoding="utf-8"))


def create_example(table):
    for path, item in doc["paths"].items():
        post = item.get("post")
        if post and path.rstrip("/").split("/")[-1] == table.replace("_", "-") and "requestBody" in post:
            media = post["requestBody"]["content"]["application/json"]
            cls = getattr(models, media["schema"]["$ref"].rsplit("/", 1)[-1])
            return cls.model_validate(media["example"]).model_dump(exclude_unset=True)
    sys.exit(f"no create operation for table {table} in openapi.yaml")


async def main(dsn):
    repo = await PgRepository.connect(dsn)
    now = datetime.datetime.now(datetime.timezone.utc)
    for table in COLUMNS:
        store = getattr(repo, table)
        data = create_example(table)
        data.pop("id", None)
        row = await store.create({"id": "check-1", **data, "created_at": now, "updated_at": now})
        assert row["id"] == "check-1", row
        try:
            await store.create({"id": "check-1", **data, "created_at": now, "updated_at": now})
            sys.exit(f"{table}: a duplicate id was accepted")
        except Conflict:
            pass
        assert (await store.get("check-1"))["id"] == "check-1"
        first = COLUMNS[table][0]
        if isinstance(data.get(first), str):
            updated = await store.update("check-1", {first: data[first] + " (checked)", "updated_at": now})
            assert updated[first].endswith(" (checked)"), updated
        assert [r["id"] for r in await store.list()] == ["check-1"]
        assert await store.delete("check-1") is True
        assert await store.delete("check-1") is False
        print(f"postgres: {table}: create, conflict (409), get, update, list, delete ok")
    examples = [json.loads(p.read_text()) for p in sorted(pathlib.Path("schemas/events/examples").glob("*.json"))]
    for name, (table, key) in EVENT_TABLES.items():
        for ev in examples:
            if key is None or key in ev:
                await repo.record_event(name, ev, f"check/{ev['type']}")
        count = await repo.pool.fetchval(f"SELECT count(*) FROM {table}")
        assert count > 0, table
        print(f"postgres: {table}: {count} example event(s) recorded")
    await repo.close()


asyncio.run(main(sys.argv[1]))
