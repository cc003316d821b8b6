"""spark-submit entry point: the whole nightly pipeline (Bronze -> Silver -> Gold) for a date.

spark-submit --py-files dist/crm_lakehouse.zip jobs/pipeline.py --env cluster --date 2026-11-20
"""

import sys

from crm_lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
