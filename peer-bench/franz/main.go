// Command franz-bench is peer-bench's franz-go side: the same workloads as the ferrokafka and
// librdkafka children (../src/ferro.rs, ../src/rdk.rs), through franz-go's kgo client, as
// franz-go's own examples/bench uses it (Produce with a promise, PollFetches).
//
//	franz-bench produce|consume <bootstrap> <topic> <messages> <size> <partitions> <group|-> k=v...
//
// It prints the same summary line as the Rust children (../src/measure.rs, Window::line):
//
//	<produce|consume> franz-go: N msgs, X msg/s, Y MB/s, cpu S s, U us/msg[, …]
//
// The clock and the CPU counters (user + system of the whole process, every thread, from
// getrusage) start at the first Produce call, or at the first record consumed.
//
// Settings arrive under their Java names; the ones with a franz-go equivalent are mapped (see
// producerOpts and consumerOpts), the others are reported on stderr and ignored. Everything not
// set is franz-go's default, with one exception: compression is always set (franz-go's default
// is snappy, Java's and the other two clients' is none).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const client = "franz-go"

type workload struct {
	kind       string
	bootstrap  string
	topic      string
	messages   int64
	size       int
	partitions int32
	group      string // "" = assign every partition
	props      [][2]string
}

func main() {
	w, err := parseArgs(os.Args[1:])
	if err == nil {
		var line string
		if w.kind == "produce" {
			line, err = produce(w)
		} else {
			line, err = consume(w)
		}
		if err == nil {
			fmt.Println(line)
			return
		}
		err = fmt.Errorf("%s %s: %w", client, w.kind, err)
	}
	fmt.Fprintf(os.Stderr, "franz-bench: %v\n", err)
	os.Exit(1)
}

func parseArgs(args []string) (*workload, error) {
	const usage = "usage: franz-bench produce|consume <bootstrap> <topic> <messages> <size> <partitions> <group|-> k=v..."
	if len(args) < 7 || (args[0] != "produce" && args[0] != "consume") {
		return nil, errors.New(usage)
	}
	w := &workload{kind: args[0], bootstrap: args[1], topic: args[2]}
	var err error
	if w.messages, err = strconv.ParseInt(args[3], 10, 64); err != nil {
		return nil, fmt.Errorf("messages %q: %v", args[3], err)
	}
	if w.size, err = strconv.Atoi(args[4]); err != nil {
		return nil, fmt.Errorf("size %q: %v", args[4], err)
	}
	p, err := strconv.ParseInt(args[5], 10, 32)
	if err != nil {
		return nil, fmt.Errorf("partitions %q: %v", args[5], err)
	}
	w.partitions = int32(p)
	if args[6] != "-" {
		w.group = args[6]
	}
	for _, kv := range args[7:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%q: expected key=value", kv)
		}
		w.props = append(w.props, [2]string{k, v})
	}
	return w, nil
}

// payload is measure.rs payload(): pseudo-random uppercase letters from a fixed seed
// (xorshift64), byte for byte, so compression ratios are the same for every client.
func payload(size int) []byte {
	x := uint64(0x9E3779B97F4A7C15)
	out := make([]byte, size)
	for i := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out[i] = 'A' + byte(x%26)
	}
	return out
}

// cpuSeconds is the process's CPU time (user + system, all threads).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// window is the start of the timed window: wall clock and CPU.
type window struct {
	start time.Time
	cpu   float64
}

func startWindow() window { return window{start: time.Now(), cpu: cpuSeconds()} }

// line is measure.rs Window::line: the summary line for n records of bytes bytes.
func (win window) line(kind string, n, bytes int64, extra string) string {
	secs := max(time.Since(win.start).Seconds(), 1e-9)
	cpu := cpuSeconds() - win.cpu
	us := 0.0
	if n > 0 {
		us = cpu * 1e6 / float64(n)
	}
	return fmt.Sprintf("%s %s: %d msgs, %.0f msg/s, %.2f MB/s, cpu %.2f s, %.2f us/msg%s",
		kind, client, n, float64(n)/secs, float64(bytes)/secs/(1024*1024), cpu, us, extra)
}

func parseInt32(k, v string) (int32, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s=%s: not a 32-bit integer", k, v)
	}
	return int32(n), nil
}

func ignored(k, v, why string) {
	fmt.Fprintf(os.Stderr, "franz-bench: ignoring %s=%s (%s)\n", k, v, why)
}

// The largest batch franz-go accepts without raising BrokerMaxWriteBytes (its default, 100 MiB,
// must not be less than the batch cap; the cap's own range is [512, 1 GiB]).
const maxBatchBytes = 100 << 20

// producerOpts maps the Java producer settings to franz-go options.
//
//   - acks: all / -1 → RequiredAcks(AllISRAcks()), 1 → LeaderAck(), 0 → NoAck(). franz-go
//     refuses acks other than all with idempotence on (as Java and librdkafka do): pass
//     enable.idempotence=false with them.
//   - enable.idempotence=false → DisableIdempotentWrite().
//   - linger.ms → ProducerLinger (franz-go's default 10 ms; Java's 5 ms).
//   - batch.size → ProducerBatchMaxBytes. Java's batch.size is the size at which a partition's
//     batch is closed; franz-go's ProducerBatchMaxBytes is the cap of one record batch
//     (uncompressed), default 1,000,012 B — in effect the same knob: batches fill up to it and
//     are then sent. Clamped to [512, 100 MiB] (franz-go's allowed range under its default
//     BrokerMaxWriteBytes). Above the broker's max.message.bytes (1 MiB + 12 B by default)
//     the broker rejects the batches, as it would the other clients'.
//   - compression.type none/gzip/snappy/lz4/zstd → ProducerBatchCompression; always set,
//     none when absent (franz-go's default is snappy).
//   - max.in.flight.requests.per.connection → MaxProduceRequestsInflightPerBroker with
//     idempotence off (franz-go's default then is 1, Java's 5). With idempotence on franz-go
//     allows 5 in flight per broker and refuses the option, so it is ignored (with a note).
//   - buffer.memory → MaxBufferedBytes (franz-go's default: unlimited bytes, 50,000 records).
//   - client.id → ClientID.
//
// The partitioner is franz-go's default, UniformBytesPartitioner(64 KiB, adaptive, keys
// hashed): sticky for unkeyed records, as the Java client's (KIP-794) and the others'.
func producerOpts(props [][2]string) ([]kgo.Opt, error) {
	compression := kgo.NoCompression()
	idempotent, maxInFlight := true, ""
	var opts []kgo.Opt
	for _, p := range props {
		k, v := p[0], p[1]
		switch k {
		case "acks":
			switch v {
			case "all", "-1":
				opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
			case "1":
				opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
			case "0":
				opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
			default:
				return nil, fmt.Errorf("acks=%s: expected all, -1, 1 or 0", v)
			}
		case "enable.idempotence":
			switch v {
			case "true":
			case "false":
				idempotent = false
				opts = append(opts, kgo.DisableIdempotentWrite())
			default:
				return nil, fmt.Errorf("enable.idempotence=%s: expected true or false", v)
			}
		case "linger.ms":
			ms, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("linger.ms=%s: not a number", v)
			}
			opts = append(opts, kgo.ProducerLinger(time.Duration(ms)*time.Millisecond))
		case "batch.size":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("batch.size=%s: not a number", v)
			}
			c := min(max(n, 512), maxBatchBytes)
			if c != n {
				fmt.Fprintf(os.Stderr, "franz-bench: batch.size=%s clamped to %d for franz-go\n", v, c)
			}
			opts = append(opts, kgo.ProducerBatchMaxBytes(int32(c)))
		case "compression.type":
			switch v {
			case "none":
				compression = kgo.NoCompression()
			case "gzip":
				compression = kgo.GzipCompression()
			case "snappy":
				compression = kgo.SnappyCompression()
			case "lz4":
				compression = kgo.Lz4Compression()
			case "zstd":
				compression = kgo.ZstdCompression()
			default:
				return nil, fmt.Errorf("compression.type=%s: expected none, gzip, snappy, lz4 or zstd", v)
			}
		case "max.in.flight.requests.per.connection":
			maxInFlight = v
		case "buffer.memory":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("%s=%s: not a number", k, v)
			}
			opts = append(opts, kgo.MaxBufferedBytes(n))
		case "client.id":
			opts = append(opts, kgo.ClientID(v))
		default:
			ignored(k, v, "no franz-go producer equivalent mapped")
		}
	}
	if maxInFlight != "" {
		const k = "max.in.flight.requests.per.connection"
		if idempotent {
			ignored(k, maxInFlight, "franz-go allows 5 in flight with idempotence and takes no setting")
		} else {
			n, err := strconv.Atoi(maxInFlight)
			if err != nil {
				return nil, fmt.Errorf("%s=%s: not a number", k, maxInFlight)
			}
			opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(n))
		}
	}
	return append(opts, kgo.ProducerBatchCompression(compression)), nil
}

// consumerOpts maps the Java consumer settings to franz-go options: fetch.max.wait.ms →
// FetchMaxWait, fetch.min.bytes → FetchMinBytes, fetch.max.bytes → FetchMaxBytes (and
// BrokerMaxReadBytes to twice that when it would exceed franz-go's 100 MiB default),
// max.partition.fetch.bytes → FetchMaxPartitionBytes, client.id → ClientID, group.protocol
// classic → franz-go's default (classic, cooperative-sticky), consumer → ServerSideBalancer()
// (KIP-848; franz-go falls back to classic if the broker is older than Kafka 4.0).
func consumerOpts(props [][2]string) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	for _, p := range props {
		k, v := p[0], p[1]
		switch k {
		case "fetch.max.wait.ms":
			n, err := parseInt32(k, v)
			if err != nil {
				return nil, err
			}
			opts = append(opts, kgo.FetchMaxWait(time.Duration(n)*time.Millisecond))
		case "fetch.min.bytes":
			n, err := parseInt32(k, v)
			if err != nil {
				return nil, err
			}
			opts = append(opts, kgo.FetchMinBytes(n))
		case "fetch.max.bytes":
			n, err := parseInt32(k, v)
			if err != nil {
				return nil, err
			}
			opts = append(opts, kgo.FetchMaxBytes(n))
			if int64(n)*2 > 100<<20 {
				opts = append(opts, kgo.BrokerMaxReadBytes(int32(min(int64(n)*2, 1<<31-1))))
			}
		case "max.partition.fetch.bytes":
			n, err := parseInt32(k, v)
			if err != nil {
				return nil, err
			}
			opts = append(opts, kgo.FetchMaxPartitionBytes(n))
		case "client.id":
			opts = append(opts, kgo.ClientID(v))
		case "group.protocol":
			switch strings.ToLower(v) {
			case "classic":
			case "consumer":
				opts = append(opts, kgo.ServerSideBalancer())
			default:
				return nil, fmt.Errorf("group.protocol=%s: expected classic or consumer", v)
			}
		default:
			ignored(k, v, "no franz-go consumer equivalent mapped")
		}
	}
	return opts, nil
}

// produce produces w.messages records (no key, the payload as value) and returns the summary
// line. Each Produce call needs its own Record (the client fills in partition, offset,
// timestamp); the value bytes are shared, as the other clients share theirs.
func produce(w *workload) (string, error) {
	opts, err := producerOpts(w.props)
	if err != nil {
		return "", err
	}
	opts = append(opts, kgo.SeedBrokers(strings.Split(w.bootstrap, ",")...))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return "", err
	}
	defer cl.Close()

	var ok, failed atomic.Int64
	var firstErr error
	var once sync.Once
	promise := func(_ *kgo.Record, err error) {
		if err == nil {
			ok.Add(1)
			return
		}
		failed.Add(1)
		once.Do(func() { firstErr = err })
	}
	value := payload(w.size)
	ctx := context.Background()
	win := startWindow()
	for i := int64(0); i < w.messages; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: w.topic, Value: value}, promise)
	}
	// Flush returns once every record's promise has been called.
	if err := cl.Flush(ctx); err != nil {
		return "", err
	}
	n := ok.Load()
	line := win.line("produce", n, n*int64(w.size), "")
	if f := failed.Load(); f > 0 {
		return "", fmt.Errorf("%d of %d delivered, %d failed; first error: %v", n, w.messages, f, firstErr)
	}
	return line, nil
}

// consume consumes w.messages records from the start of the topic (every partition assigned,
// or as member of group w.group) and returns the summary line. No offsets are committed.
func consume(w *workload) (string, error) {
	opts, err := consumerOpts(w.props)
	if err != nil {
		return "", err
	}
	opts = append(opts, kgo.SeedBrokers(strings.Split(w.bootstrap, ",")...))
	if w.group != "" {
		opts = append(opts,
			kgo.ConsumerGroup(w.group),
			kgo.ConsumeTopics(w.topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.DisableAutoCommit(),
		)
	} else {
		parts := make(map[int32]kgo.Offset, w.partitions)
		for p := int32(0); p < w.partitions; p++ {
			parts[p] = kgo.NewOffset().AtStart()
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.topic: parts}))
	}
	begun := time.Now()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return "", err
	}
	defer cl.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Second)
	defer cancel()
	var n, bytes int64
	var win window
	var first float64
	started := false
	for n < w.messages {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("only %d of %d records in 600 s", n, w.messages)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			e := errs[0]
			return "", fmt.Errorf("fetch %s[%d]: %v", e.Topic, e.Partition, e.Err)
		}
		if !started && !fetches.Empty() {
			win, first, started = startWindow(), time.Since(begun).Seconds(), true
		}
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			bytes += int64(len(r.Value))
		})
	}
	total := time.Since(begun).Seconds()
	return win.line("consume", n, bytes,
		fmt.Sprintf(", first record after %.2f s, all after %.2f s", first, total)), nil
}
