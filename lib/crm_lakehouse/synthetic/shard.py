"""Worker process of a sharded generation run: ``python -m crm_lakehouse.synthetic.shard``.

Reads one task (a range of companies, see :func:`.generate.task_to_json`) from the JSON file
named by its argument, writes that range's delivery and truth rows into the task's scratch
folder, and prints its counters as JSON on stdout. The parent concatenates the shards; this
module is not meant to be run by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from crm_lakehouse.synthetic.generate import part_to_json, task_from_json, write_part


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m crm_lakehouse.synthetic.shard TASK.json\n")
        return 2
    task = task_from_json(json.loads(Path(args[0]).read_text(encoding="utf-8")))
    part = write_part(task)
    sys.stdout.write(json.dumps(part_to_json(part)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
