#!/usr/bin/env bash
# Fail with a clear message unless Java 17 or newer is available (Spark 4 needs it).
set -u
java_bin="${JAVA_HOME:+$JAVA_HOME/bin/}java"
if ! command -v "$java_bin" >/dev/null 2>&1; then
  echo "error: Java not found (looked for '$java_bin'). Spark 4 needs Java 17 or newer." >&2
  echo "       Install it, e.g. 'apt-get install openjdk-17-jre-headless', or set JAVA_HOME." >&2
  exit 2
fi
version_line=$("$java_bin" -version 2>&1 | head -n 1)
major=$(printf '%s\n' "$version_line" | sed -E 's/.*version "([0-9]+)(\.([0-9]+))?.*/\1 \3/' )
set -- $major
if [ "${1:-0}" = "1" ]; then major=${2:-0}; else major=${1:-0}; fi
case "$major" in (''|*[!0-9]*) major=0;; esac
if [ "$major" -lt 17 ]; then
  echo "error: $java_bin is too old ($version_line). Spark 4 needs Java 17 or newer." >&2
  echo "       Install it, e.g. 'apt-get install openjdk-17-jre-headless', or set JAVA_HOME." >&2
  exit 2
fi
echo "java $major: ok"
