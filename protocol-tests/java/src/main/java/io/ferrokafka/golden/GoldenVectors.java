package io.ferrokafka.golden;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.CompressionType;
import org.apache.kafka.common.record.ControlRecordType;
import org.apache.kafka.common.record.EndTransactionMarker;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.MutableRecordBatch;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.utils.BufferSupplier;

/**
 * Golden record batch (magic v2) vectors for ferrokafka, produced by the Apache Kafka Java client.
 *
 * <p>Modes:
 * <ul>
 *   <li>{@code generate <outdir>}: builds every case with {@link MemoryRecordsBuilder}, writes
 *       {@code <outdir>/<case>.bin} (one raw batch each) and {@code <outdir>/cases.json}.</li>
 *   <li>{@code verify <file> <compression|any>}: reads batches written by someone else (ferrokafka's encoder),
 *       validates them the way a Java consumer would and prints one summary line per batch.</li>
 * </ul>
 *
 * <p>Everything is deterministic: fixed timestamps, fixed ids, pseudo-random filler from a fixed-seed LCG.
 * Nothing reads the clock.
 */
public final class GoldenVectors {

    /** Size of the fixed v2 batch header; the records section starts here. */
    private static final int RECORDS_OFFSET = 61;

    /** First timestamp used by the cases (2023-11-14T22:13:20Z); arbitrary but fixed. */
    private static final long T0 = 1_700_000_000_000L;

    private GoldenVectors() {
    }

    // ------------------------------------------------------------------------------------------------ case model

    /** One header as appended. */
    record Hdr(String key, byte[] value) {
    }

    /** One record as appended (absolute offset). */
    record Rec(long offset, long timestamp, byte[] key, byte[] value, List<Hdr> headers) {
    }

    /** A batch to build. Either {@code records} (data batch) or {@code marker} (control batch) is used. */
    static final class Case {
        String name;
        CompressionType compression = CompressionType.NONE;
        TimestampType timestampType = TimestampType.CREATE_TIME;
        long logAppendTime = RecordBatch.NO_TIMESTAMP;
        long baseOffset = 0;
        int partitionLeaderEpoch = RecordBatch.NO_PARTITION_LEADER_EPOCH;
        long producerId = RecordBatch.NO_PRODUCER_ID;
        short producerEpoch = RecordBatch.NO_PRODUCER_EPOCH;
        int baseSequence = RecordBatch.NO_SEQUENCE;
        boolean transactional = false;
        List<Rec> records = new ArrayList<>();
        /** Non-null for control batches. */
        EndTransactionMarker marker;
        long markerTimestamp;

        Case(String name) {
            this.name = name;
        }
    }

    // ------------------------------------------------------------------------------------------------ data helpers

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static List<Hdr> hdrs(Hdr... h) {
        return Arrays.asList(h);
    }

    /**
     * ~5 KiB of text-like filler: words chosen by a fixed-seed LCG, so compressors find repetition
     * but the output is not trivially a run of one byte.
     */
    private static byte[] largeValue() {
        String[] words = {"kafka", "record", "batch", "offset", "producer", "epoch", "sequence", "leader",
            "partition", "topic", "zstd", "lz4", "snappy", "gzip", "varint", "header", "timestamp", "crc32c"};
        StringBuilder sb = new StringBuilder();
        long state = 0x2545F4914F6CDD1DL;
        int i = 0;
        while (sb.length() < 5120) {
            state = state * 6364136223846793005L + 1442695040888963407L;
            int w = (int) ((state >>> 33) % words.length);
            sb.append(words[w]);
            sb.append(((state >>> 20) & 7) == 0 ? '\n' : ' ');
            sb.append(i++ % 97 == 0 ? Integer.toString(i) : "");
        }
        sb.setLength(5120);
        return utf8(sb.toString());
    }

    /** The mixed record set shared by the five per-compression cases. */
    private static List<Rec> mixedRecords(long base) {
        List<Rec> r = new ArrayList<>();
        r.add(new Rec(base, T0, utf8("key-0"), utf8("value-0"), hdrs()));
        r.add(new Rec(base + 1, T0 + 5, null, utf8("value with null key"), hdrs()));
        r.add(new Rec(base + 2, T0 + 10, utf8("tombstone"), null, hdrs()));
        r.add(new Rec(base + 3, T0 + 10, utf8("empty-value"), new byte[0], hdrs()));
        r.add(new Rec(base + 4, T0 + 20, utf8("with-headers"), utf8("v4"), hdrs(
            new Hdr("trace-id", utf8("abc123")),
            new Hdr("null-header", null),
            new Hdr("empty-header", new byte[0]),
            new Hdr("trace-id", utf8("duplicate key is allowed")),
            new Hdr("caf\u00e9-\u00fc\u00f1\u00ee\u00e7\u00f8d\u00e9-\u4e16\u754c", new byte[] {0, 1, 2, (byte) 0xff}))));
        r.add(new Rec(base + 5, T0 - 1000, utf8("earlier-than-first"), utf8("negative timestamp delta"), hdrs()));
        r.add(new Rec(base + 6, T0 + 3_600_000, utf8("large"), largeValue(), hdrs(new Hdr("content-type", utf8("text/plain")))));
        r.add(new Rec(base + 7, T0 + 3_600_001, new byte[] {0, (byte) 0x80, (byte) 0xfe, (byte) 0xff}, new byte[] {(byte) 0xde, (byte) 0xad, (byte) 0xbe, (byte) 0xef}, hdrs()));
        return r;
    }

    private static List<Rec> simpleRecords(long base, int n, long ts) {
        List<Rec> r = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            r.add(new Rec(base + i, ts + i, utf8("k" + i), utf8("v" + i), hdrs()));
        }
        return r;
    }

    private static List<Case> cases() {
        List<Case> out = new ArrayList<>();
        for (CompressionType ct : new CompressionType[] {CompressionType.NONE, CompressionType.GZIP,
            CompressionType.SNAPPY, CompressionType.LZ4, CompressionType.ZSTD}) {
            Case c = new Case(ct.name + "_mixed");
            c.compression = ct;
            c.records = mixedRecords(0);
            out.add(c);
        }

        Case c = new Case("none_idempotent");
        c.producerId = 1234;
        c.producerEpoch = 5;
        c.baseSequence = 42;
        c.records = simpleRecords(0, 3, T0);
        out.add(c);

        c = new Case("none_transactional");
        c.producerId = 1234;
        c.producerEpoch = 5;
        c.baseSequence = 45;
        c.transactional = true;
        c.baseOffset = 100;
        c.records = simpleRecords(100, 3, T0 + 100);
        out.add(c);

        c = new Case("none_control_commit");
        c.baseOffset = 103;
        c.partitionLeaderEpoch = 7;
        c.producerId = 1234;
        c.producerEpoch = 5;
        c.transactional = true;
        c.marker = new EndTransactionMarker(ControlRecordType.COMMIT, 17);
        c.markerTimestamp = T0 + 200;
        out.add(c);

        c = new Case("none_control_abort");
        c.baseOffset = 104;
        c.partitionLeaderEpoch = 7;
        c.producerId = 1234;
        c.producerEpoch = 6;
        c.transactional = true;
        c.marker = new EndTransactionMarker(ControlRecordType.ABORT, 18);
        c.markerTimestamp = T0 + 300;
        out.add(c);

        c = new Case("none_base_offset_1000_leader_epoch_7");
        c.baseOffset = 1000;
        c.partitionLeaderEpoch = 7;
        c.records = simpleRecords(1000, 3, T0);
        out.add(c);

        c = new Case("none_single_record");
        c.records = List.of(new Rec(0, T0, utf8("only-key"), utf8("only-value"), hdrs(new Hdr("h", utf8("x")))));
        out.add(c);

        c = new Case("none_500_records");
        c.records = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            // Timestamps step by 1 ms; keys alternate with null so both varint paths appear.
            c.records.add(new Rec(i, T0 + i, i % 2 == 0 ? null : utf8(Integer.toString(i)), utf8(Integer.toString(i * 7)), hdrs()));
        }
        out.add(c);

        c = new Case("none_empty_key");
        c.records = List.of(
            new Rec(0, T0, new byte[0], utf8("value with empty key"), hdrs()),
            new Rec(1, T0, new byte[0], new byte[0], hdrs(new Hdr("", new byte[0]))));
        out.add(c);

        c = new Case("none_offset_gap");
        c.baseOffset = 10;
        c.records = List.of(
            new Rec(10, T0, utf8("a"), utf8("1"), hdrs()),
            new Rec(11, T0 + 1, utf8("b"), utf8("2"), hdrs()),
            new Rec(15, T0 + 2, utf8("c"), utf8("3"), hdrs()),
            new Rec(20, T0 + 3, utf8("d"), utf8("4"), hdrs()));
        out.add(c);

        c = new Case("none_log_append_time");
        c.timestampType = TimestampType.LOG_APPEND_TIME;
        c.logAppendTime = T0 + 86_400_000;
        c.records = List.of(
            new Rec(0, T0, utf8("k0"), utf8("v0"), hdrs()),
            new Rec(1, T0 + 50, utf8("k1"), utf8("v1"), hdrs()),
            new Rec(2, T0 - 50, utf8("k2"), utf8("v2"), hdrs()));
        out.add(c);
        return out;
    }

    // ------------------------------------------------------------------------------------------------ building

    private static Compression compression(CompressionType t) {
        return Compression.of(t).build();
    }

    private static Header[] javaHeaders(List<Hdr> h) {
        Header[] out = new Header[h.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = new RecordHeader(h.get(i).key(), h.get(i).value());
        }
        return out;
    }

    private static byte[] build(Case c, CompressionType ct) {
        MemoryRecords mr;
        if (c.marker != null) {
            mr = MemoryRecords.withEndTransactionMarker(c.baseOffset, c.markerTimestamp, c.partitionLeaderEpoch,
                c.producerId, c.producerEpoch, c.marker);
        } else {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            MemoryRecordsBuilder b = MemoryRecords.builder(buf, RecordBatch.MAGIC_VALUE_V2, compression(ct),
                c.timestampType, c.baseOffset, c.logAppendTime, c.producerId, c.producerEpoch, c.baseSequence,
                c.transactional, false, c.partitionLeaderEpoch);
            for (Rec r : c.records) {
                b.appendWithOffset(r.offset(), r.timestamp(), r.key(), r.value(), javaHeaders(r.headers()));
            }
            mr = b.build();
        }
        ByteBuffer bb = mr.buffer().duplicate();
        byte[] out = new byte[bb.remaining()];
        bb.get(out);
        return out;
    }

    // ------------------------------------------------------------------------------------------------ checks

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException("self-check failed: " + what);
        }
    }

    private static byte[] bytesOf(ByteBuffer b) {
        if (b == null) {
            return null;
        }
        ByteBuffer d = b.duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }

    private static MutableRecordBatch onlyBatch(byte[] bytes) {
        MemoryRecords mr = MemoryRecords.readableRecords(ByteBuffer.wrap(bytes));
        List<MutableRecordBatch> batches = new ArrayList<>();
        mr.batches().forEach(batches::add);
        check(batches.size() == 1, "exactly one batch, got " + batches.size());
        MutableRecordBatch b = batches.get(0);
        check(b.sizeInBytes() == bytes.length, "batch size covers the whole buffer");
        b.ensureValid();
        return b;
    }

    /** Decompresses the records section of a batch with the Java codec itself. */
    private static byte[] decompressedRecordsSection(byte[] batch, CompressionType ct) throws IOException {
        ByteBuffer section = ByteBuffer.wrap(batch, RECORDS_OFFSET, batch.length - RECORDS_OFFSET).slice();
        if (ct == CompressionType.NONE) {
            return bytesOf(section);
        }
        try (InputStream in = compression(ct).wrapForInput(section, RecordBatch.MAGIC_VALUE_V2, BufferSupplier.NO_CACHING)) {
            return in.readAllBytes();
        }
    }

    // ------------------------------------------------------------------------------------------------ digests

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Feeds one nullable byte string as i32 big-endian length (-1 for null) followed by its bytes. */
    private static void feedNullable(MessageDigest md, byte[] b) {
        int len = b == null ? -1 : b.length;
        md.update(ByteBuffer.allocate(4).putInt(len).array());
        if (b != null) {
            md.update(b);
        }
    }

    private static String hex(byte[] b) {
        if (b == null) {
            return null;
        }
        StringBuilder sb = new StringBuilder(b.length * 2);
        for (byte x : b) {
            sb.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
        }
        return sb.toString();
    }

    // ------------------------------------------------------------------------------------------------ JSON

    /** Minimal deterministic JSON writer: fixed field order, ASCII-only output (non-ASCII as \\u escapes). */
    private static final class Json {
        private Json() {
        }

        static String str(String s) {
            if (s == null) {
                return "null";
            }
            StringBuilder o = new StringBuilder("\"");
            for (int i = 0; i < s.length(); i++) {
                char ch = s.charAt(i);
                switch (ch) {
                    case '"' -> o.append("\\\"");
                    case '\\' -> o.append("\\\\");
                    case '\n' -> o.append("\\n");
                    case '\r' -> o.append("\\r");
                    case '\t' -> o.append("\\t");
                    default -> {
                        if (ch < 0x20 || ch > 0x7e) {
                            o.append(String.format(Locale.ROOT, "\\u%04x", (int) ch));
                        } else {
                            o.append(ch);
                        }
                    }
                }
            }
            return o.append('"').toString();
        }
    }

    private static String recordJson(long offsetDelta, long timestamp, byte[] key, byte[] value, List<Hdr> headers) {
        StringBuilder sb = new StringBuilder();
        sb.append("{\"offset_delta\": ").append(offsetDelta)
            .append(", \"timestamp\": ").append(timestamp)
            .append(", \"key\": ").append(Json.str(hex(key)))
            .append(", \"value\": ").append(Json.str(hex(value)))
            .append(", \"headers\": [");
        for (int i = 0; i < headers.size(); i++) {
            Hdr h = headers.get(i);
            sb.append(i == 0 ? "" : ", ")
                .append("{\"key\": ").append(Json.str(h.key()))
                .append(", \"value\": ").append(Json.str(hex(h.value()))).append('}');
        }
        return sb.append("]}").toString();
    }

    // ------------------------------------------------------------------------------------------------ generate

    private static void generate(Path outDir) throws IOException {
        Files.createDirectories(outDir);
        List<String> caseJson = new ArrayList<>();
        for (Case c : cases()) {
            caseJson.add(generateCase(c, outDir));
        }
        StringBuilder sb = new StringBuilder("[\n");
        for (int i = 0; i < caseJson.size(); i++) {
            sb.append(caseJson.get(i)).append(i + 1 < caseJson.size() ? ",\n" : "\n");
        }
        sb.append("]\n");
        Files.write(outDir.resolve("cases.json"), sb.toString().getBytes(StandardCharsets.US_ASCII));
    }

    private static String generateCase(Case c, Path outDir) throws IOException {
        byte[] bytes = build(c, c.compression);
        String file = c.name + ".bin";
        Files.write(outDir.resolve(file), bytes);

        // Read back with the Java client and cross-check against what we appended.
        MutableRecordBatch b = onlyBatch(bytes);
        check(b.magic() == RecordBatch.MAGIC_VALUE_V2, "magic 2");
        check(b.compressionType() == c.compression, "compression");
        check(b.baseOffset() == c.baseOffset, "base offset");
        check(b.partitionLeaderEpoch() == c.partitionLeaderEpoch, "leader epoch");
        check(b.producerId() == c.producerId && b.producerEpoch() == c.producerEpoch, "producer id/epoch");
        check(b.baseSequence() == c.baseSequence, "base sequence");
        check(b.isTransactional() == c.transactional, "transactional");
        check(b.isControlBatch() == (c.marker != null), "control");
        check(b.timestampType() == c.timestampType, "timestamp type");

        MessageDigest kv = sha256();
        List<String> recs = new ArrayList<>();
        List<Record> decoded = new ArrayList<>();
        b.forEach(decoded::add);
        if (c.marker != null) {
            check(decoded.size() == 1, "one control record");
            Record r = decoded.get(0);
            byte[] key = bytesOf(r.key());
            byte[] value = bytesOf(r.value());
            check(EndTransactionMarker.deserialize(r).equals(c.marker), "marker round trip");
            check(r.timestamp() == c.markerTimestamp, "marker timestamp");
            feedNullable(kv, key);
            feedNullable(kv, value);
            recs.add(recordJson(r.offset() - c.baseOffset, r.timestamp(), key, value, List.of()));
        } else {
            check(decoded.size() == c.records.size(), "record count");
            for (int i = 0; i < decoded.size(); i++) {
                Record d = decoded.get(i);
                Rec r = c.records.get(i);
                check(d.offset() == r.offset(), "offset of record " + i);
                long expectTs = c.timestampType == TimestampType.LOG_APPEND_TIME ? c.logAppendTime : r.timestamp();
                check(d.timestamp() == expectTs, "timestamp of record " + i);
                check(Arrays.equals(bytesOf(d.key()), r.key()), "key of record " + i);
                check(Arrays.equals(bytesOf(d.value()), r.value()), "value of record " + i);
                Header[] dh = d.headers();
                check(dh.length == r.headers().size(), "header count of record " + i);
                for (int j = 0; j < dh.length; j++) {
                    check(dh[j].key().equals(r.headers().get(j).key()), "header key");
                    check(Arrays.equals(dh[j].value(), r.headers().get(j).value()), "header value");
                }
                feedNullable(kv, r.key());
                feedNullable(kv, r.value());
                // For LOG_APPEND_TIME the wire keeps the appended timestamps (base + delta); Java's reader
                // reports log_append_time instead. The manifest holds what is on the wire.
                recs.add(recordJson(r.offset() - c.baseOffset, r.timestamp(), r.key(), r.value(), r.headers()));
            }
        }

        // The records section once decompressed must equal an uncompressed build of the same records:
        // lets the Rust side compare its own record encoding even where compressor output differs.
        byte[] plainSection = decompressedRecordsSection(bytes, c.compression);
        if (c.marker == null && c.compression != CompressionType.NONE) {
            byte[] noneBatch = build(c, CompressionType.NONE);
            byte[] noneSection = Arrays.copyOfRange(noneBatch, RECORDS_OFFSET, noneBatch.length);
            check(Arrays.equals(plainSection, noneSection), "decompressed section equals uncompressed build");
        }

        ByteBuffer hdr = ByteBuffer.wrap(bytes);
        long baseTimestamp = hdr.getLong(27);
        int lastOffsetDelta = hdr.getInt(23);
        int attributes = hdr.getShort(21) & 0xffff;

        StringBuilder sb = new StringBuilder();
        sb.append("  {\n");
        field(sb, "name", Json.str(c.name));
        field(sb, "file", Json.str(file));
        field(sb, "compression", Json.str(c.compression.name));
        field(sb, "base_offset", Long.toString(c.baseOffset));
        field(sb, "partition_leader_epoch", Integer.toString(c.partitionLeaderEpoch));
        field(sb, "producer_id", Long.toString(c.producerId));
        field(sb, "producer_epoch", Short.toString(c.producerEpoch));
        field(sb, "base_sequence", Integer.toString(c.baseSequence));
        field(sb, "transactional", Boolean.toString(c.transactional));
        field(sb, "control", Boolean.toString(c.marker != null));
        field(sb, "timestamp_type", Json.str(c.timestampType == TimestampType.LOG_APPEND_TIME ? "log_append" : "create"));
        if (c.timestampType == TimestampType.LOG_APPEND_TIME) {
            field(sb, "log_append_time", Long.toString(c.logAppendTime));
        }
        field(sb, "java_base_timestamp", Long.toString(baseTimestamp));
        field(sb, "java_max_timestamp", Long.toString(b.maxTimestamp()));
        field(sb, "java_last_offset_delta", Integer.toString(lastOffsetDelta));
        field(sb, "java_attributes", Integer.toString(attributes));
        field(sb, "java_crc", Long.toString(b.checksum()));
        field(sb, "size_bytes", Integer.toString(bytes.length));
        field(sb, "uncompressed_records_size", Integer.toString(plainSection.length));
        field(sb, "uncompressed_records_sha256", Json.str(hex(sha256().digest(plainSection))));
        field(sb, "kv_sha256", Json.str(hex(kv.digest())));
        sb.append("    \"records\": [\n");
        for (int i = 0; i < recs.size(); i++) {
            sb.append("      ").append(recs.get(i)).append(i + 1 < recs.size() ? ",\n" : "\n");
        }
        sb.append("    ]\n  }");
        return sb.toString();
    }

    private static void field(StringBuilder sb, String name, String rawValue) {
        sb.append("    ").append(Json.str(name)).append(": ").append(rawValue).append(",\n");
    }

    // ------------------------------------------------------------------------------------------------ verify

    /**
     * Validates every batch in {@code file} the way a Java consumer would and prints one line per batch.
     *
     * @return process exit code (0 ok, 1 invalid input)
     */
    private static int verify(Path file, String expectedCompression) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        MemoryRecords mr = MemoryRecords.readableRecords(ByteBuffer.wrap(bytes));
        int consumed = 0;
        int index = 0;
        try {
            for (MutableRecordBatch b : mr.batches()) {
                if (b.magic() != RecordBatch.MAGIC_VALUE_V2) {
                    System.err.println("FAIL batch=" + index + " magic=" + b.magic() + " (expected 2)");
                    return 1;
                }
                b.ensureValid();
                String comp = b.compressionType().name;
                if (!expectedCompression.equals("any") && !expectedCompression.equals(comp)) {
                    System.err.println("FAIL batch=" + index + " compression=" + comp + " (expected " + expectedCompression + ")");
                    return 1;
                }
                MessageDigest kv = sha256();
                int count = 0;
                int headerCount = 0;
                long firstOffset = -1;
                long lastOffset = -1;
                for (Record r : b) {
                    r.ensureValid();
                    if (count == 0) {
                        firstOffset = r.offset();
                    }
                    lastOffset = r.offset();
                    headerCount += r.headers().length;
                    feedNullable(kv, bytesOf(r.key()));
                    feedNullable(kv, bytesOf(r.value()));
                    count++;
                }
                Integer declared = b.countOrNull();
                if (declared == null || declared != count) {
                    System.err.println("FAIL batch=" + index + " declared records=" + declared + " iterated=" + count);
                    return 1;
                }
                if (count > 0 && lastOffset != b.lastOffset()) {
                    System.err.println("FAIL batch=" + index + " last record offset " + lastOffset + " != header last offset " + b.lastOffset());
                    return 1;
                }
                System.out.println("OK batch=" + index
                    + " records=" + count
                    + " first_offset=" + firstOffset
                    + " last_offset=" + lastOffset
                    + " compression=" + comp
                    + " base_offset=" + b.baseOffset()
                    + " timestamp_type=" + (b.timestampType() == TimestampType.LOG_APPEND_TIME ? "log_append" : "create")
                    + " max_timestamp=" + b.maxTimestamp()
                    + " producer_id=" + b.producerId()
                    + " producer_epoch=" + b.producerEpoch()
                    + " base_sequence=" + b.baseSequence()
                    + " transactional=" + b.isTransactional()
                    + " control=" + b.isControlBatch()
                    + " headers=" + headerCount
                    + " size=" + b.sizeInBytes()
                    + " kv_sha256=" + hex(kv.digest()));
                consumed += b.sizeInBytes();
                index++;
            }
        } catch (RuntimeException e) {
            System.err.println("FAIL batch=" + index + " " + e);
            return 1;
        }
        if (index == 0) {
            System.err.println("FAIL no complete batch in " + file);
            return 1;
        }
        if (consumed != bytes.length) {
            // Java's batch iterator silently stops at a truncated trailing batch; we treat that as an error.
            System.err.println("FAIL " + (bytes.length - consumed) + " trailing bytes after " + index + " batch(es)");
            return 1;
        }
        return 0;
    }

    // ------------------------------------------------------------------------------------------------ main

    private static void usage() {
        System.err.println("usage: GoldenVectors generate <outdir>");
        System.err.println("       GoldenVectors verify <file> <none|gzip|snappy|lz4|zstd|any>");
        System.exit(2);
    }

    /**
     * Entry point.
     *
     * @param args see {@link #usage()}
     * @throws IOException on file errors
     */
    public static void main(String[] args) throws IOException {
        if (args.length == 2 && args[0].equals("generate")) {
            generate(Paths.get(args[1]));
        } else if (args.length == 3 && args[0].equals("verify")) {
            List<String> allowed = List.of("none", "gzip", "snappy", "lz4", "zstd", "any");
            if (!allowed.contains(args[2])) {
                usage();
            }
            System.exit(verify(Paths.get(args[1]), args[2]));
        } else {
            usage();
        }
    }
}
