package kmip_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// TTLV item types (KMIP 1.x §9.1.1.2).
const (
	tStructure   = 0x01
	tInteger     = 0x02
	tLongInteger = 0x03
	tEnumeration = 0x05
	tBoolean     = 0x06
	tTextString  = 0x07
	tByteString  = 0x08
	tDateTime    = 0x09
)

// rawItem encodes an item with an explicit length followed by rest (value
// and padding as given), so a test can break any rule.
func rawItem(tag int, typ byte, length uint32, rest []byte) []byte {
	b := []byte{byte(tag >> 16), byte(tag >> 8), byte(tag), typ}
	b = binary.BigEndian.AppendUint32(b, length)
	return append(b, rest...)
}

// item encodes a well-formed item.
func item(tag int, typ byte, value []byte) []byte {
	padded := make([]byte, (len(value)+7)&^7)
	copy(padded, value)
	return rawItem(tag, typ, uint32(len(value)), padded)
}

func structure(tag int, children ...[]byte) []byte {
	return item(tag, tStructure, bytes.Join(children, nil))
}

func integer(tag int, v int32) []byte {
	return item(tag, tInteger, binary.BigEndian.AppendUint32(nil, uint32(v)))
}

func enumeration(tag int, v uint32) []byte {
	return item(tag, tEnumeration, binary.BigEndian.AppendUint32(nil, v))
}

// queryMessage builds a KMIP 1.2 Query request by hand; extraHeader items
// go before the Batch Count, batchCount replaces the Batch Count item.
func queryMessage(extraHeader []byte, batchCount []byte) []byte {
	if batchCount == nil {
		batchCount = integer(kmip.TagBatchCount, 1)
	}
	return structure(kmip.TagRequestMessage,
		structure(kmip.TagRequestHeader,
			structure(kmip.TagProtocolVersion,
				integer(kmip.TagProtocolVersionMajor, 1),
				integer(kmip.TagProtocolVersionMinor, 2)),
			extraHeader,
			batchCount),
		structure(kmip.TagBatchItem,
			enumeration(kmip.TagOperation, uint32(kmip.OperationQuery)),
			structure(kmip.TagRequestPayload,
				enumeration(kmip.TagQueryFunction, uint32(kmip.QueryFunctionObjects)))))
}

func TestServerMalformedTTLV(t *testing.T) {
	eight := make([]byte, 8)
	badPadding := append([]byte("abc"), 0, 0, 0xEE, 0, 0)
	tests := []struct {
		name string
		msg  []byte
	}{
		{"integer of length 2", queryMessage(nil, rawItem(kmip.TagBatchCount, tInteger, 2, []byte{0, 1, 0, 0, 0, 0, 0, 0}))},
		{"integer of length 8", queryMessage(nil, rawItem(kmip.TagBatchCount, tInteger, 8, []byte{0, 0, 0, 0, 0, 0, 0, 1}))},
		{"long integer of length 4", queryMessage(rawItem(kmip.TagMaximumResponseSize, tLongInteger, 4, eight), nil)},
		{"date-time of length 4", queryMessage(rawItem(kmip.TagTimeStamp, tDateTime, 4, eight), nil)},
		{"enumeration of length 2", queryMessage(rawItem(kmip.TagBatchErrorContinuationOption, tEnumeration, 2, eight), nil)},
		{"boolean value 2", queryMessage(rawItem(kmip.TagAsynchronousIndicator, tBoolean, 8, []byte{0, 0, 0, 0, 0, 0, 0, 2}), nil)},
		{"non-zero padding", queryMessage(rawItem(kmip.TagClientCorrelationValue, tTextString, 3, badPadding), nil)},
		{"invalid UTF-8", queryMessage(item(kmip.TagClientCorrelationValue, tTextString, []byte{0xff, 0xfe}), nil)},
		{"unknown type", queryMessage(rawItem(kmip.TagClientCorrelationValue, 0x0B, 8, eight), nil)},
		{"tag without 42 prefix", queryMessage(item(0x110001, tByteString, []byte{1}), nil)},
		{"child runs past its structure", truncatedChild()},
		{"wrong type for a known tag", queryMessage(nil, item(kmip.TagBatchCount, tTextString, []byte("one")))},
		{"operation as text", structure(kmip.TagRequestMessage,
			structure(kmip.TagRequestHeader,
				structure(kmip.TagProtocolVersion, integer(kmip.TagProtocolVersionMajor, 1), integer(kmip.TagProtocolVersionMinor, 4)),
				integer(kmip.TagBatchCount, 1)),
			structure(kmip.TagBatchItem, item(kmip.TagOperation, tTextString, []byte("Query"))))},
		{"no header", structure(kmip.TagRequestMessage, structure(kmip.TagBatchItem))},
		{"empty message", structure(kmip.TagRequestMessage)},
		{"trailing bytes inside", growLength(queryMessage(nil, nil), 8)},
		{"top-level not a structure", item(kmip.TagRequestMessage, tByteString, eight)},
		{"response message tag", structure(kmip.TagResponseMessage, structure(kmip.TagResponseHeader))},
		{"plain HTTP", []byte("GET / HTTP/1.1\r\nHost: kms\r\n\r\n")},
	}
	f, srv := startServer(t, fastConfig())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := srv.MustDial(t, alice)
			b, err := kmiptest.RoundTrip(conn, tt.msg, ioTimeout)
			if err != nil {
				// A closed connection is an acceptable answer; a hang is not.
				if isTimeout(err) {
					t.Fatalf("server neither answered nor closed: %v", err)
				}
				t.Logf("closed without an answer: %v", err)
			} else {
				checkNoLeakBytes(t, b)
				resp := kmiptest.DecodeResponse(t, b)
				kmiptest.CheckNoLeak(t, resp)
				if len(resp.BatchItem) != 1 {
					t.Fatalf("error response has %d batch items", len(resp.BatchItem))
				}
				fails(t, resp.BatchItem[0], kmip.ResultReasonInvalidMessage)
			}
			checkServes(t, srv)
		})
	}
	checkNoPanics(t, f)
	if n := f.Replicator.Applied(); n != 0 {
		t.Errorf("malformed messages applied %d commands", n)
	}
}

// truncatedChild is a message whose header structure claims more bytes
// than the message holds, while the top-level length is consistent.
func truncatedChild() []byte {
	msg := queryMessage(nil, nil)
	// The Request Header starts right after the 8-byte top-level header.
	n := binary.BigEndian.Uint32(msg[12:16])
	binary.BigEndian.PutUint32(msg[12:16], n+64)
	return msg
}

// growLength appends n zero bytes inside the top-level structure.
func growLength(msg []byte, n int) []byte {
	out := append(bytes.Clone(msg), make([]byte, n)...)
	binary.BigEndian.PutUint32(out[4:8], binary.BigEndian.Uint32(out[4:8])+uint32(n))
	return out
}

// TestServerTruncatedMessage: the top-level length promises more than the
// client sends; the read deadline must end the wait.
func TestServerTruncatedMessage(t *testing.T) {
	cfg := fastConfig()
	cfg.ReadTimeout = 300 * time.Millisecond
	f, srv := startServer(t, cfg)
	conn := srv.MustDial(t, alice)
	msg := queryMessage(nil, nil)
	if _, err := conn.Write(msg[:len(msg)-16]); err != nil {
		t.Fatal(err)
	}
	closed, data := kmiptest.WaitClosed(conn, ioTimeout)
	if !closed {
		t.Fatal("server kept waiting for the rest of a truncated message")
	}
	checkNoLeakBytes(t, data)
	checkServes(t, srv)
	checkNoPanics(t, f)
}
