#!/usr/bin/env bash
# Regenerates the golden record batches (*.bin) and cases.json in this directory from the
# Apache Kafka Java client (see ../java). Deterministic: running it twice gives identical bytes.
#
# Usage: protocol-tests/golden/regenerate.sh            # generate
#        protocol-tests/golden/regenerate.sh verify FILE COMPRESSION   # check a foreign batch file with Java
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
java_dir="$here/../java"
cp_file="$java_dir/target/classpath.txt"

# Compile and resolve the runtime classpath (kafka-clients + zstd-jni, lz4-java, snappy-java).
# Maven 3.8 prints stray ANSI resets even with -B -q, so its output is shown only on failure.
mvn_log="$(mktemp)"
trap 'rm -f "$mvn_log"' EXIT
if ! mvn -B -q -Dstyle.color=never -f "$java_dir/pom.xml" compile dependency:build-classpath \
    -Dmdep.outputFile="$cp_file" -Dmdep.includeScope=runtime >"$mvn_log" 2>&1; then
    cat "$mvn_log" >&2
    exit 1
fi
classpath="$java_dir/target/classes:$(cat "$cp_file")"

if [[ "${1:-}" == "verify" ]]; then
    shift
    java -cp "$classpath" io.ferrokafka.golden.GoldenVectors verify "$@"
    exit $?
fi

# Drop stale outputs so renamed or removed cases do not linger.
rm -f "$here"/*.bin "$here/cases.json"
java -cp "$classpath" io.ferrokafka.golden.GoldenVectors generate "$here"
echo "wrote $(ls "$here"/*.bin | wc -l) batch files and cases.json to $here" >&2
