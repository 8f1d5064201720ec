// Command produce_events sends feature or outcome events to budgetd from
// JSON lines on stdin: the Go twin of examples/python/produce_events.py.
//
//	go build -o produce_events ./examples/go/produce_events   (see examples/go/README.md)
//	./produce_events -bootstrap HOST:PORT [-kind feature|outcome] [-print-partitions] < events.jsonl
//
// Debian 12: apt install golang-go golang-github-shopify-sarama-dev
// golang-github-linkedin-goavro-dev, then build with GO111MODULE=off
// GOPATH=/usr/share/gocode (Debian's Go packages are sources there).
//
// What a producer must get right (docs/messages.md, docs/architecture.md):
//   - the Kafka key is the user id, and the partition is Kafka's murmur2 of
//     it (the Java client's default, and librdkafka's murmur2_random), so
//     that a user's features and outcomes land on the same partition number
//     of their two topics. sarama's default partitioner is FNV-1a, not
//     murmur2: this program brings its own (murmur2Partitioner);
//   - the value is Confluent's framing: 0x00, the schema id (1 features,
//     2 outcomes by default) as 4 big-endian bytes, the Avro body;
//   - every field is present: goavro fills the schema's defaults for the
//     ones left out (context {}, the historical fields null).
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/Shopify/sarama"
	"github.com/linkedin/goavro"
)

type kind struct {
	schema, topic string
	id            int
}

var kinds = map[string]kind{
	"feature": {"feature_event.avsc", "budgetd.features", 1},
	"outcome": {"outcome_event.avsc", "budgetd.outcomes", 2},
}

// murmur2 is Kafka's (org.apache.kafka.common.utils.Utils.murmur2).
func murmur2(data []byte) uint32 {
	const m, r = uint32(0x5bd1e995), 24
	n := len(data)
	h := uint32(0x9747b28c) ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := binary.LittleEndian.Uint32(data[i:])
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// murmur2Partitioner places a key as the Java client does:
// (murmur2(key) & 0x7fffffff) % partitions.
type murmur2Partitioner struct{}

func (murmur2Partitioner) Partition(msg *sarama.ProducerMessage, n int32) (int32, error) {
	key, err := msg.Key.Encode()
	if err != nil {
		return 0, err
	}
	return int32((murmur2(key) & 0x7fffffff) % uint32(n)), nil
}

func (murmur2Partitioner) RequiresConsistency() bool { return true }

// native turns one decoded JSON line into goavro's native form: numbers
// as the field's type, a union's value wrapped in its branch's name.
func native(fields []interface{}, rec map[string]interface{}) error {
	for _, f := range fields {
		fm := f.(map[string]interface{})
		name := fm["name"].(string)
		v, ok := rec[name]
		if !ok {
			continue // goavro fills the default
		}
		t := fm["type"]
		if u, isUnion := t.([]interface{}); isUnion {
			if v == nil {
				continue
			}
			t = u[1] // budgetd's unions are ["null", T]
			w, err := convert(t, v)
			if err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			rec[name] = goavro.Union(typeName(t), w)
			continue
		}
		w, err := convert(t, v)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		rec[name] = w
	}
	return nil
}

func typeName(t interface{}) string {
	if s, ok := t.(string); ok {
		return s
	}
	return t.(map[string]interface{})["type"].(string)
}

func convert(t interface{}, v interface{}) (interface{}, error) {
	switch typeName(t) {
	case "long", "int", "float", "double":
		x, ok := v.(float64)
		if !ok {
			return nil, fmt.Errorf("%v is not a number", v)
		}
		switch typeName(t) {
		case "long":
			return int64(x), nil
		case "int":
			return int32(x), nil
		case "float":
			return float32(x), nil
		}
		return x, nil
	case "array":
		a, ok := v.([]interface{})
		if !ok {
			return nil, fmt.Errorf("%v is not an array", v)
		}
		out := make([]interface{}, len(a))
		for i := range a {
			w, err := convert(t.(map[string]interface{})["items"], a[i])
			if err != nil {
				return nil, err
			}
			out[i] = w
		}
		return out, nil
	}
	return v, nil
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", a...)
	os.Exit(1)
}

func main() {
	bootstrap := flag.String("bootstrap", "", "Kafka brokers, HOST:PORT[,...] (required)")
	kindName := flag.String("kind", "feature", "feature or outcome")
	topic := flag.String("topic", "", "default budgetd.features or budgetd.outcomes")
	schemaID := flag.Int("schema-id", 0, "default 1 (features) or 2 (outcomes)")
	schemas := flag.String("schemas", "", "budgetd's schemas/ directory (default: the repository's)")
	printParts := flag.Bool("print-partitions", false, "print KEY PARTITION OFFSET of every message")
	flag.Parse()
	k, ok := kinds[*kindName]
	if *bootstrap == "" || !ok {
		flag.Usage()
		os.Exit(64)
	}
	if *topic == "" {
		*topic = k.topic
	}
	if *schemaID == 0 {
		*schemaID = k.id
	}
	if *schemas == "" {
		_, self, _, _ := runtime.Caller(0)
		*schemas = filepath.Join(filepath.Dir(self), "..", "..", "..", "schemas")
	}
	text, err := ioutil.ReadFile(filepath.Join(*schemas, k.schema))
	if err != nil {
		fail("%v (-schemas DIR names budgetd's schemas/)", err)
	}
	codec, err := goavro.NewCodec(string(text))
	if err != nil {
		fail("schema %s: %v", k.schema, err)
	}
	var schema map[string]interface{}
	if err := json.Unmarshal(text, &schema); err != nil {
		fail("schema %s: %v", k.schema, err)
	}
	fields := schema["fields"].([]interface{})

	cfg := sarama.NewConfig()
	// 0.11 (record batches): every Kafka since accepts it, and so does the
	// embedded broker (librdkafka's mock cluster has no Metadata v5)
	cfg.Version = sarama.V0_11_0_0
	cfg.ClientID = "budgetd-example-go"
	cfg.Producer.Partitioner = func(string) sarama.Partitioner { return murmur2Partitioner{} }
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer(strings.Split(*bootstrap, ","), cfg)
	if err != nil {
		fail("producer: %v", err)
	}
	defer p.Close()

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	sent := 0
	for n := 1; in.Scan(); n++ {
		line := strings.TrimSpace(in.Text())
		if line == "" {
			continue
		}
		var rec map[string]interface{}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			fail("line %d: %v", n, err)
		}
		if err := native(fields, rec); err != nil {
			fail("line %d: not a %s event: %v", n, *kindName, err)
		}
		body, err := codec.BinaryFromNative(nil, rec)
		if err != nil {
			fail("line %d: not a %s event: %v", n, *kindName, err)
		}
		value := make([]byte, 5, 5+len(body))
		binary.BigEndian.PutUint32(value[1:], uint32(*schemaID))
		value = append(value, body...)
		user, _ := rec["user_id"].(string)
		part, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: *topic,
			Key: sarama.StringEncoder(user), Value: sarama.ByteEncoder(value)})
		if err != nil {
			fail("line %d: not delivered: %v", n, err)
		}
		if *printParts {
			fmt.Printf("%s %d %d\n", user, part, off)
		}
		sent++
	}
	if err := in.Err(); err != nil {
		fail("stdin: %v", err)
	}
	fmt.Fprintf(os.Stderr, "sent %d %s events to %s\n", sent, *kindName, *topic)
}
