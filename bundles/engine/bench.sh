#!/bin/sh
# Runs the engine benchmark (src/test/java/.../bench/EngineBench.java) after `mvn install`.
# Example: ./bench.sh --layers 8 --threads 1,2 --dtypes F16,BF16
set -e
cd "$(dirname "$0")"
JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
API_JAR="$HOME/.m2/repository/io/loadstone/api/0.1.0-SNAPSHOT/api-0.1.0-SNAPSHOT.jar"
exec "$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -Djava.util.logging.SimpleFormatter.format='%5$s%6$s%n' ${BENCH_JVM_OPTS:-} \
  -cp target/classes:target/test-classes:"$API_JAR" io.loadstone.engine.bench.EngineBench "$@" 2>&1 | grep -v 'Using incubator modules'
