"""spark-submit entry point: the bronze step for one logical date.

spark-submit --py-files dist/crm_lakehouse.zip jobs/bronze_ingest.py --env cluster --date 2026-11-20
"""

import sys

from crm_lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--steps", "bronze", *sys.argv[1:]]))
