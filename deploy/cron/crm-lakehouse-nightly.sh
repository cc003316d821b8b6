#!/usr/bin/env bash
# The nightly crm-lakehouse run for cron (and the Kubernetes CronJob): spark-submit the packaged
# pipeline (dist/jobs/pipeline.py) for one logical date, in client deploy mode from an install
# folder laid out by dist/bin/install.sh, appending all output to one log file per date.
#
#   crm-lakehouse-nightly.sh [YYYY-MM-DD [LAKEHOUSE OPTIONS...]]
#
# The date defaults to yesterday (UTC): the night's run processes the previous day's deliveries.
# Options after the date go to 'lakehouse run' (e.g. --steps silver,gold).
#
# No flock: the lakehouse takes its own lock on the lake, so two runs never overlap; a run that
# finds the lock held exits 5, which is logged, and the date is done by the next run or by hand.
#
# Settings (environment; defaults in brackets):
#   CRM_LAKEHOUSE_HOME        install folder [the folder holding this dist/]
#   CRM_LAKEHOUSE_ENV         config overlay conf/<env>.yaml [cluster]
#   CRM_LAKEHOUSE_MASTER      Spark master [yarn]
#   CRM_LAKEHOUSE_DELTA_PACKAGE  Delta connector for --packages, empty for none
#                             [io.delta:delta-spark_4.2_2.13:4.4.1]
#   CRM_LAKEHOUSE_EXECUTOR_PYTHON  the executors' Python [./environment/bin/python, with the
#                             env archive shipped by --archives unless the master is local]
#   CRM_LAKEHOUSE_SPARK_ARGS  more spark-submit options, split on blanks []
#   CRM_LAKEHOUSE_LOG_DIR     log folder [$CRM_LAKEHOUSE_HOME/logs]; '-' writes to this
#                             script's output instead (containers: kubectl logs)
#   SPARK_SUBMIT              the spark-submit command [spark-submit]
#   LAKEHOUSE_PII_KEY or LAKEHOUSE_PII_KEY_FILE   the Gold PII key, read by the driver
#
# Exit code: the lakehouse's: 0 done, 1 a step failed, 2 bad configuration or environment,
# 4 a data contract failed, 5 another run holds the lock.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="${CRM_LAKEHOUSE_HOME:-$(cd "$here/../.." && pwd)}"
env_name="${CRM_LAKEHOUSE_ENV:-cluster}"
master="${CRM_LAKEHOUSE_MASTER:-yarn}"
delta_package="${CRM_LAKEHOUSE_DELTA_PACKAGE-io.delta:delta-spark_4.2_2.13:4.4.1}"
executor_python="${CRM_LAKEHOUSE_EXECUTOR_PYTHON:-./environment/bin/python}"
log_dir="${CRM_LAKEHOUSE_LOG_DIR:-$home/logs}"
log=""
spark_submit="${SPARK_SUBMIT:-spark-submit}"

die() { echo "crm-lakehouse-nightly: error: $*" >&2; exit 2; }

date="${1:-$(date -u -d yesterday +%F)}"
[ $# -gt 0 ] && shift
[[ "$date" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || die "'$date' is not a date in YYYY-MM-DD form"
for f in dist/crm_lakehouse.zip dist/jobs/pipeline.py environment/bin/python conf/base.yaml; do
  [ -e "$home/$f" ] || die "$home/$f missing: install the build with dist/bin/install.sh $home"
done

args=(--master "$master" --deploy-mode client --name "crm-lakehouse-$date"
      --conf spark.pyspark.driver.python=./environment/bin/python
      --conf "spark.pyspark.python=$executor_python"
      --py-files dist/crm_lakehouse.zip)
if [[ "$master" != local* && "$executor_python" == ./environment/* ]]; then
  args+=(--archives dist/crm-lakehouse-env.tar.gz#environment)
fi
if [ -n "$delta_package" ]; then
  args+=(--packages "$delta_package"
         --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension
         --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog)
fi
read -r -a extra <<< "${CRM_LAKEHOUSE_SPARK_ARGS:-}"
args+=("${extra[@]}")

exec 3>&2  # the caller's stderr: cron mails what is written there
if [ "$log_dir" != "-" ]; then
  mkdir -p "$log_dir"
  log="$log_dir/crm-lakehouse-$date.log"
  exec >> "$log" 2>&1
fi
cd "$home"  # the driver reads ./conf and ./contracts, and runs ./environment/bin/python
echo "=== $(date -u +%FT%TZ) start: crm-lakehouse run for $date (env $env_name, master $master)"
set +e
"$spark_submit" "${args[@]}" dist/jobs/pipeline.py --env "$env_name" --date "$date" "$@"
rc=$?
set -e
case $rc in
  0) what="done" ;;
  1) what="a step failed" ;;
  2) what="bad arguments, configuration or environment" ;;
  4) what="a data contract failed: nothing was published for the failing table" ;;
  5) what="another run holds the lake's lock: run this date again later" ;;
  *) what="spark-submit failed" ;;
esac
echo "=== $(date -u +%FT%TZ) end: exit $rc ($what)"
if [ $rc -ne 0 ]; then
  echo "crm-lakehouse-nightly: $date: exit $rc ($what)${log:+; see $log}" >&3
fi
exit $rc
