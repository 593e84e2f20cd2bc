#!/usr/bin/env bash
# Regenerates ../golden/murmur2.txt from the Apache Kafka Java client (kafka-clients, see pom.xml):
# Utils.murmur2, Utils.toPositive and BuiltInPartitioner.partitionForKey for a fixed list of keys.
# Deterministic. The Rust test protocol-tests/tests/murmur2_java.rs checks every line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cp_file="$here/target/classpath.txt"
mvn_log="$(mktemp)"
trap 'rm -f "$mvn_log"' EXIT
if ! mvn -B -q -Dstyle.color=never -f "$here/pom.xml" compile dependency:build-classpath \
    -Dmdep.outputFile="$cp_file" -Dmdep.includeScope=runtime >"$mvn_log" 2>&1; then
    cat "$mvn_log" >&2
    exit 1
fi
java -cp "$here/target/classes:$(cat "$cp_file")" io.ferrokafka.murmur2.Murmur2Vectors \
    >"$here/../golden/murmur2.txt"
echo "wrote $(grep -vc '^#' "$here/../golden/murmur2.txt") keys to golden/murmur2.txt" >&2
