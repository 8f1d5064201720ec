// Command tail_decisions prints budgetd's latest decisions as JSON lines, a
// coupon issuer's reader: the Go twin of examples/python/tail_decisions.py.
//
//	go build -o tail_decisions ./examples/go/tail_decisions   (see examples/go/README.md)
//	./tail_decisions -bootstrap HOST:PORT [-last N]
//
// Each message on budgetd.decisions is Avro binary in one of budgetd's two
// framings (docs/messages.md): Confluent's (0x00, a 4-byte big-endian
// schema id, the body) or Avro single-object (0xC3 0x01, an 8-byte
// fingerprint, the body). The body is decoded with schemas/decision.avsc;
// a message of another schema id is reported, not guessed at.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/Shopify/sarama"
	"github.com/linkedin/goavro"
)

// body is the Avro body of one message, or nil (the reason on stderr).
func body(data []byte, schemaID uint32) []byte {
	switch {
	case len(data) >= 5 && data[0] == 0:
		if id := binary.BigEndian.Uint32(data[1:5]); id != schemaID {
			fmt.Fprintf(os.Stderr, "skipped: schema id %d, not %d (schema.id.decision)\n", id, schemaID)
			return nil
		}
		return data[5:]
	case len(data) >= 10 && data[0] == 0xc3 && data[1] == 0x01:
		return data[10:] // the fingerprint names the schema; we read decisions only
	}
	fmt.Fprintf(os.Stderr, "skipped: unknown framing\n")
	return nil
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", a...)
	os.Exit(1)
}

func main() {
	bootstrap := flag.String("bootstrap", "", "Kafka brokers, HOST:PORT[,...] (required)")
	topic := flag.String("topic", "budgetd.decisions", "the decisions topic")
	schemaID := flag.Uint("schema-id", 4, "schema.id.decision")
	last := flag.Int64("last", 5, "decisions per partition, from the end")
	schemas := flag.String("schemas", "", "budgetd's schemas/ directory (default: the repository's)")
	flag.Parse()
	if *bootstrap == "" {
		flag.Usage()
		os.Exit(64)
	}
	if *schemas == "" {
		_, self, _, _ := runtime.Caller(0)
		*schemas = filepath.Join(filepath.Dir(self), "..", "..", "..", "schemas")
	}
	text, err := ioutil.ReadFile(filepath.Join(*schemas, "decision.avsc"))
	if err != nil {
		fail("%v (-schemas DIR names budgetd's schemas/)", err)
	}
	codec, err := goavro.NewCodec(string(text))
	if err != nil {
		fail("decision.avsc: %v", err)
	}
	cfg := sarama.NewConfig()
	// 0.11 (record batches): every Kafka since accepts it, and so does the
	// embedded broker (librdkafka's mock cluster has no Metadata v5)
	cfg.Version = sarama.V0_11_0_0
	cfg.ClientID = "budgetd-example-go"
	client, err := sarama.NewClient(strings.Split(*bootstrap, ","), cfg)
	if err != nil {
		fail("client: %v", err)
	}
	defer client.Close()
	parts, err := client.Partitions(*topic)
	if err != nil || len(parts) == 0 {
		fail("no topic %s at %s: %v", *topic, *bootstrap, err)
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		fail("consumer: %v", err)
	}
	defer consumer.Close()
	for _, p := range parts {
		lo, err1 := client.GetOffset(*topic, p, sarama.OffsetOldest)
		hi, err2 := client.GetOffset(*topic, p, sarama.OffsetNewest)
		if err1 != nil || err2 != nil {
			fail("offsets of %s/%d: %v %v", *topic, p, err1, err2)
		}
		start := hi - *last
		if start < lo {
			start = lo
		}
		if start >= hi {
			continue
		}
		pc, err := consumer.ConsumePartition(*topic, p, start)
		if err != nil {
			fail("%s/%d: %v", *topic, p, err)
		}
		for left := hi - start; left > 0; {
			select {
			case m := <-pc.Messages():
				left--
				b := body(m.Value, uint32(*schemaID))
				if b == nil {
					continue
				}
				rec, _, err := codec.NativeFromBinary(b)
				if err != nil {
					fmt.Fprintf(os.Stderr, "skipped: %v\n", err)
					continue
				}
				out, _ := json.Marshal(rec) // keys sorted, as the Python reader prints
				fmt.Println(string(out))
			case <-time.After(time.Second):
				left = 0 // nothing more came within a second
			}
		}
		pc.Close()
	}
}
