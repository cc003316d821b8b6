"""spark-submit entry point: the gold step for one logical date.

spark-submit --py-files dist/crm_lakehouse.zip jobs/gold_build.py --env cluster --date 2026-11-20
"""

import sys

from crm_lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--steps", "gold", *sys.argv[1:]]))
