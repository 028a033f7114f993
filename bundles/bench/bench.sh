#!/usr/bin/env bash
# Loadstone's speed benchmarks on synthetic TinyLlama-shaped models. Builds this module (the modules it
# depends on must be installed: `mvn -B install` at the root once), then runs one:
#   ./bench.sh [--layers 8 --threads 2 --prompt 128 --gen 32]   the Java engine against llama.cpp (EngineVsLlamaCpp)
#   ./bench.sh runner [--layers 4 --threads 2 --gen 64]   llama.cpp in process vs in a runner process (RunnerBench)
#   ./bench.sh exl2 [--layers 4 --threads 2 --prompt 64 --gen 16]   EXL2 4.0/6.0 bpw on the engine against llama.cpp Q4_0/Q8_0
#   ./bench.sh engine [--layers 22 --threads 1,2 --dtypes F16,BF16 --quant NONE,INT8,NF4]   the engine alone (EngineBench)
#   ./bench.sh quant [--layers 8 --threads 2 --formats gptq4,awq4,gptq8]   GPTQ/AWQ against llama.cpp Q4_0/Q8_0 (QuantVsLlamaCpp)
set -euo pipefail
cd "$(dirname "$0")"

# The PATH's java is often 17 on these machines: look for a JDK 25 the way distribution/loadstone does.
java_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }
find_jdk() {
  for c in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25-* /usr/lib/jvm/*25*; do
    [ -n "$c" ] && [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    if [ "$(java_major "$c")" -ge 25 ] 2>/dev/null; then echo "$c"; return; fi
  done
  echo "bench.sh: no JDK 25 found (JAVA_HOME='${JAVA_HOME:-}', /usr/lib/jvm)" >&2
  exit 1
}
export JAVA_HOME="$(find_jdk)"
export PATH="$JAVA_HOME/bin:$PATH"

mvn -q -DskipTests install
mvn -q dependency:build-classpath -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=runtime
main=io.loadstone.bench.EngineVsLlamaCpp
if [ "${1:-}" = engine ]; then main=io.loadstone.bench.EngineBench; shift; fi
if [ "${1:-}" = exl2 ]; then main=io.loadstone.bench.Exl2VsLlamaCpp; shift; fi
if [ "${1:-}" = quant ]; then main=io.loadstone.bench.QuantVsLlamaCpp; shift; fi
if [ "${1:-}" = runner ]; then main=io.loadstone.bench.RunnerBench; shift; fi
# The JIT's notice about incubator modules is noise in a report.
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED --add-modules=jdk.incubator.vector \
  -Dloadstone.shared.models="$PWD/../../../shared/models" ${BENCH_JVM_OPTS:-} -cp "target/classes:$(cat target/cp.txt)" "$main" "$@" \
  2>&1 | grep -v 'Using incubator modules'
