"""spark-submit entry point: the whole nightly pipeline (Bronze -> Silver -> Gold) for one logical date.

Takes the arguments of ``lakehouse run`` (``--date``, ``--env``, ``--conf-dir``, ...). Submit it
from the packaged build (``make package package-env``), e.g. in YARN cluster mode::

    spark-submit --master yarn --deploy-mode cluster \\
      --packages io.delta:delta-spark_4.2_2.13:4.4.1 \\
      --archives dist/crm-lakehouse-env.tar.gz#environment,dist/conf.zip#conf,dist/contracts.zip#contracts \\
      --conf spark.pyspark.python=./environment/bin/python \\
      --py-files dist/crm_lakehouse.zip \\
      dist/jobs/pipeline.py --env cluster --date 2026-11-20

Other deploy modes and the schedulers: README ("Running on a cluster") and deploy/README.md.
"""

import sys

from crm_lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
