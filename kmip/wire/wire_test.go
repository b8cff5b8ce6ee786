package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"
)

// Tags used to build messages by hand (KMIP 1.x section 9.1.3.1).
const (
	tagBatchCount     = 0x42000D
	tagBatchItem      = 0x42000F
	tagOperation      = 0x42005C
	tagRequestPayload = 0x420079
	tagObjectType     = 0x420057 // any KMIP tag works as a carrier for a primitive
	tagExtension      = 0x540001
	operationQuery    = 0x18
)

// raw encodes an item with an explicit length and the exact bytes that follow
// the header (value and padding), so tests can break any rule.
func raw(tag uint32, typ byte, length uint32, rest []byte) []byte {
	b := []byte{byte(tag >> 16), byte(tag >> 8), byte(tag), typ}
	b = binary.BigEndian.AppendUint32(b, length)
	return append(b, rest...)
}

// item encodes a well-formed item: length is len(value), padding is zero.
func item(tag uint32, typ byte, value []byte) []byte {
	padded := make([]byte, paddedLength(uint32(len(value))))
	copy(padded, value)
	return raw(tag, typ, uint32(len(value)), padded)
}

func structure(tag uint32, children ...[]byte) []byte {
	return item(tag, typeStructure, bytes.Join(children, nil))
}

func integer(tag uint32, v int32) []byte {
	return item(tag, typeInteger, binary.BigEndian.AppendUint32(nil, uint32(v)))
}

func enumeration(tag, v uint32) []byte {
	return item(tag, typeEnumeration, binary.BigEndian.AppendUint32(nil, v))
}

func requestHeader(major, minor int32) []byte {
	return structure(tagRequestHeader,
		structure(tagProtocolVersion,
			integer(tagProtocolVersionMajor, major),
			integer(tagProtocolVersionMinor, minor)),
		integer(tagBatchCount, 1))
}

// request builds a Query request message whose Request Payload holds payload.
func request(payload ...[]byte) []byte {
	return structure(tagRequestMessage,
		requestHeader(1, 4),
		structure(tagBatchItem,
			enumeration(tagOperation, operationQuery),
			structure(tagRequestPayload, payload...)))
}

// minimalItems is the number of items in request() with an empty payload.
const minimalItems = 9

// nested builds n Structures, each inside the previous one.
func nested(n int) []byte {
	b := []byte{}
	for range n {
		b = structure(tagExtension, b)
	}
	return b
}

func TestValidate(t *testing.T) {
	valid := request()
	tests := []struct {
		name string
		msg  []byte
		lim  Limits
		want error
	}{
		{name: "minimal request", msg: valid},
		{name: "every type well formed", msg: request(
			item(tagObjectType, typeLongInteger, make([]byte, 8)),
			item(tagObjectType, typeBigInteger, bytes.Repeat([]byte{0xff}, 16)),
			item(tagObjectType, typeBoolean, []byte{0, 0, 0, 0, 0, 0, 0, 1}),
			item(tagObjectType, typeTextString, []byte("h\u00e9llo")),
			item(tagObjectType, typeTextString, nil),
			item(tagObjectType, typeByteString, []byte{0xde, 0xad, 0xbe, 0xef, 0xff}),
			item(tagObjectType, typeDateTime, make([]byte, 8)),
			item(tagObjectType, typeInterval, []byte{0, 0, 0, 9}),
			structure(tagExtension),
		)},
		{name: "integer length 2", msg: request(raw(tagObjectType, typeInteger, 2, make([]byte, 8))), want: ErrMalformed},
		{name: "integer length 8", msg: request(raw(tagObjectType, typeInteger, 8, make([]byte, 8))), want: ErrMalformed},
		{name: "long integer length 4", msg: request(raw(tagObjectType, typeLongInteger, 4, make([]byte, 8))), want: ErrMalformed},
		{name: "enumeration length 8", msg: request(raw(tagObjectType, typeEnumeration, 8, make([]byte, 8))), want: ErrMalformed},
		{name: "date-time length 4", msg: request(raw(tagObjectType, typeDateTime, 4, make([]byte, 8))), want: ErrMalformed},
		{name: "interval length 8", msg: request(raw(tagObjectType, typeInterval, 8, make([]byte, 8))), want: ErrMalformed},
		{name: "big integer length 0", msg: request(raw(tagObjectType, typeBigInteger, 0, nil)), want: ErrMalformed},
		{name: "big integer length 4", msg: request(raw(tagObjectType, typeBigInteger, 4, make([]byte, 8))), want: ErrMalformed},
		{name: "boolean value 2", msg: request(item(tagObjectType, typeBoolean, []byte{0, 0, 0, 0, 0, 0, 0, 2})), want: ErrMalformed},
		{name: "boolean high bit", msg: request(item(tagObjectType, typeBoolean, []byte{1, 0, 0, 0, 0, 0, 0, 0})), want: ErrMalformed},
		{name: "boolean length 4", msg: request(raw(tagObjectType, typeBoolean, 4, []byte{0, 0, 0, 1, 0, 0, 0, 0})), want: ErrMalformed},
		{name: "integer non-zero padding", msg: request(raw(tagObjectType, typeInteger, 4, []byte{0, 0, 0, 1, 0, 0, 0, 1})), want: ErrMalformed},
		{name: "text string non-zero padding", msg: request(raw(tagObjectType, typeTextString, 3, []byte("abc\x00\x00\x00\x00 "))), want: ErrMalformed},
		{name: "byte string non-zero padding", msg: request(raw(tagObjectType, typeByteString, 1, []byte{7, 0, 0, 0, 0, 0, 0, 7})), want: ErrMalformed},
		{name: "text string invalid UTF-8", msg: request(item(tagObjectType, typeTextString, []byte{'a', 0xff, 0xfe})), want: ErrMalformed},
		{name: "unknown type 0x0B", msg: request(item(tagObjectType, 0x0B, make([]byte, 8))), want: ErrMalformed},
		{name: "unknown type 0x00", msg: request(item(tagObjectType, 0x00, make([]byte, 8))), want: ErrMalformed},
		{name: "bad tag prefix", msg: request(integer(0x430001, 1)), want: ErrMalformed},
		{name: "zero tag", msg: request(integer(0x000000, 1)), want: ErrMalformed},
		{name: "structure shorter than contents", msg: request(raw(tagExtension, typeStructure, 8, integer(tagObjectType, 1))), want: ErrMalformed},
		{name: "structure longer than contents", msg: request(raw(tagExtension, typeStructure, 24, append(integer(tagObjectType, 1), make([]byte, 8)...))), want: ErrMalformed},
		{name: "structure length not multiple of 8", msg: request(raw(tagExtension, typeStructure, 12, append(integer(tagObjectType, 1), make([]byte, 4)...))), want: ErrMalformed},
		{name: "truncated value", msg: valid[:len(valid)-8], want: ErrMalformed},
		{name: "truncated padding", msg: valid[:len(valid)-1], want: ErrMalformed},
		{name: "truncated header", msg: valid[:5], want: ErrMalformed},
		{name: "empty", msg: nil, want: ErrMalformed},
		{name: "trailing item", msg: append(bytes.Clone(valid), integer(tagObjectType, 1)...), want: ErrMalformed},
		{name: "trailing byte", msg: append(bytes.Clone(valid), 0), want: ErrMalformed},
		{name: "depth at limit", msg: request(nested(4)), lim: Limits{MaxDepth: 7}},
		{name: "depth over limit", msg: request(nested(5)), lim: Limits{MaxDepth: 7}, want: ErrTooDeep},
		{name: "depth over default", msg: request(nested(DefaultMaxDepth)), want: ErrTooDeep},
		{name: "items at limit", msg: valid, lim: Limits{MaxItems: minimalItems}},
		{name: "items over limit", msg: valid, lim: Limits{MaxItems: minimalItems - 1}, want: ErrTooManyItems},
		{name: "size at limit", msg: valid, lim: Limits{MaxMessageSize: len(valid)}},
		{name: "size over limit", msg: valid, lim: Limits{MaxMessageSize: len(valid) - 1}, want: ErrTooLarge},
		{name: "response message", msg: structure(0x42007B, requestHeader(1, 4)), want: ErrUnexpectedTag},
		{name: "top-level not structure", msg: integer(tagRequestMessage, 1), want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.msg, tt.lim)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestValidateErrorHidesValue checks that error text, which is logged, never
// quotes value bytes: they may be key material.
func TestValidateErrorHidesValue(t *testing.T) {
	secret := []byte("topsecretkeymaterial")
	for name, msg := range map[string][]byte{
		"bad UTF-8":    request(item(tagObjectType, typeTextString, append(bytes.Clone(secret), 0xff))),
		"bad padding":  request(raw(tagObjectType, typeByteString, uint32(len(secret)), append(bytes.Clone(secret), 1, 1, 1, 1))),
		"bad length":   request(raw(tagObjectType, typeLongInteger, uint32(len(secret)), append(bytes.Clone(secret), 0, 0, 0, 0))),
		"trailing key": append(request(), item(tagObjectType, typeByteString, secret)...),
	} {
		t.Run(name, func(t *testing.T) {
			err := Validate(msg, Limits{})
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			if strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), "746f70") {
				t.Fatalf("error text leaks the value: %q", err)
			}
		})
	}
}

// TestValidateKMIPGo checks that a request encoded by github.com/ovh/kmip-go
// passes validation and framing unchanged.
func TestValidateKMIPGo(t *testing.T) {
	payload := &payloads.CreateRequestPayload{
		ObjectType: kmip.ObjectTypeSymmetricKey,
		TemplateAttribute: kmip.TemplateAttribute{Attribute: []kmip.Attribute{
			{AttributeName: kmip.AttributeNameCryptographicAlgorithm, AttributeValue: kmip.CryptographicAlgorithmAES},
			{AttributeName: kmip.AttributeNameCryptographicLength, AttributeValue: int32(256)},
			{AttributeName: kmip.AttributeNameCryptographicUsageMask,
				AttributeValue: kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt},
			{AttributeName: kmip.AttributeNameName, AttributeValue: kmip.Name{
				NameValue: "k\u00e9y-1", NameType: kmip.NameTypeUninterpretedTextString}},
		}},
	}
	for _, version := range []kmip.ProtocolVersion{kmip.V1_0, kmip.V1_2, kmip.V1_4} {
		msg := kmip.NewRequestMessage(version, payload)
		msg.Header.AsynchronousIndicator = new(bool)
		b := ttlv.MarshalTTLV(&msg)
		t.Run(version.String(), func(t *testing.T) {
			if err := Validate(b, Limits{}); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			got, err := ReadMessage(bytes.NewReader(b), Limits{})
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("ReadMessage() = %d bytes, %v; want the %d encoded bytes", len(got), err, len(b))
			}
			major, minor, ok := PeekVersion(b)
			if !ok || major != version.ProtocolVersionMajor || minor != version.ProtocolVersionMinor {
				t.Fatalf("PeekVersion() = %d, %d, %v; want %s", major, minor, ok, version)
			}
			if err := ttlv.UnmarshalTTLV(b, &kmip.RequestMessage{}); err != nil {
				t.Fatalf("kmip-go cannot decode its own message: %v", err)
			}
		})
	}
}

// countingReader counts the bytes handed out by the reader it wraps.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// header8 encodes a bare 8-byte item header.
func header8(tag uint32, typ byte, length uint32) []byte {
	return raw(tag, typ, length, nil)
}

func TestReadMessage(t *testing.T) {
	valid := request()
	errBoom := errors.New("boom")
	tests := []struct {
		name     string
		stream   io.Reader
		lim      Limits
		want     []byte
		wantErr  error
		maxCount int // bytes the reader may hand out; 0 means unchecked
	}{
		{name: "one message", stream: bytes.NewReader(valid), want: valid},
		{name: "first of two", stream: bytes.NewReader(append(bytes.Clone(valid), request()...)), want: valid},
		{name: "one byte at a time", stream: iotest.OneByteReader(bytes.NewReader(valid)), want: valid},
		{name: "size at limit", stream: bytes.NewReader(valid), lim: Limits{MaxMessageSize: len(valid)}, want: valid},
		{name: "clean close", stream: bytes.NewReader(nil), wantErr: io.EOF},
		{name: "truncated header", stream: bytes.NewReader(valid[:5]), wantErr: io.ErrUnexpectedEOF},
		{name: "header only", stream: bytes.NewReader(valid[:8]), wantErr: io.ErrUnexpectedEOF},
		{name: "truncated body", stream: bytes.NewReader(valid[:len(valid)-1]), wantErr: io.ErrUnexpectedEOF},
		{name: "reader error", stream: iotest.ErrReader(errBoom), wantErr: errBoom},
		{name: "reader error mid-body", stream: io.MultiReader(bytes.NewReader(valid[:12]), iotest.ErrReader(errBoom)), wantErr: errBoom},
		{
			name:     "oversized length not read",
			stream:   io.MultiReader(bytes.NewReader(header8(tagRequestMessage, typeStructure, 0xFFFFFFF8)), zeros{}),
			wantErr:  ErrTooLarge,
			maxCount: 8,
		},
		{
			name:     "one byte over limit",
			stream:   io.MultiReader(bytes.NewReader(valid), zeros{}),
			lim:      Limits{MaxMessageSize: len(valid) - 8},
			wantErr:  ErrTooLarge,
			maxCount: 8,
		},
		{
			name:     "not a request message",
			stream:   io.MultiReader(bytes.NewReader(header8(0x42007B, typeStructure, 16)), zeros{}),
			wantErr:  ErrUnexpectedTag,
			maxCount: 8,
		},
		{name: "not a structure", stream: bytes.NewReader(integer(tagRequestMessage, 1)), wantErr: ErrMalformed, maxCount: 8},
		{name: "length not multiple of 8", stream: io.MultiReader(bytes.NewReader(header8(tagRequestMessage, typeStructure, 12)), zeros{}), wantErr: ErrMalformed, maxCount: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := &countingReader{r: tt.stream}
			got, err := ReadMessage(cr, tt.lim)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("ReadMessage() error = %v, want %v", err, tt.wantErr)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("ReadMessage() = %x, want %x", got, tt.want)
			}
			if tt.maxCount > 0 && cr.n > tt.maxCount {
				t.Fatalf("read %d bytes from the stream, want at most %d", cr.n, tt.maxCount)
			}
		})
	}
}

// zeros is an endless stream of zero bytes, standing in for a body the
// client claims to send.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestReadMessageStream(t *testing.T) {
	a, b := request(), request(item(tagObjectType, typeTextString, []byte("second")))
	r := bytes.NewReader(append(bytes.Clone(a), b...))
	for i, want := range [][]byte{a, b} {
		got, err := ReadMessage(r, Limits{})
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("message %d: ReadMessage() = %x, %v; want %x", i, got, err, want)
		}
	}
	if _, err := ReadMessage(r, Limits{}); err != io.EOF {
		t.Fatalf("after the last message: ReadMessage() error = %v, want io.EOF", err)
	}
}

func TestPeekVersion(t *testing.T) {
	valid := request()
	// A header whose integers were cut: Major is whole, Minor is not.
	cutMinor := structure(tagRequestMessage, requestHeader(1, 2))[:8+8+8+16+8+2]
	tests := []struct {
		name         string
		msg          []byte
		major, minor int32
		ok           bool
	}{
		{name: "valid", msg: valid, major: 1, minor: 4, ok: true},
		{name: "malformed payload", msg: request(item(tagObjectType, 0x0B, nil)), major: 1, minor: 4, ok: true},
		{name: "truncated after header", msg: valid[:8+len(requestHeader(1, 4))+3], major: 1, minor: 4, ok: true},
		{name: "huge top-level length", msg: append(header8(tagRequestMessage, typeStructure, 0xFFFFFFF8), requestHeader(2, 0)...), major: 2, minor: 0, ok: true},
		{name: "header after another item", msg: structure(tagRequestMessage, integer(tagObjectType, 5), requestHeader(1, 1)), major: 1, minor: 1, ok: true},
		{name: "minor cut", msg: cutMinor},
		{name: "empty", msg: nil},
		{name: "header only", msg: valid[:8]},
		{name: "response message", msg: structure(0x42007B, requestHeader(1, 4))},
		{name: "no protocol version", msg: structure(tagRequestMessage, structure(tagRequestHeader, integer(tagBatchCount, 1)))},
		{name: "major of length 2", msg: structure(tagRequestMessage, structure(tagRequestHeader, structure(tagProtocolVersion,
			raw(tagProtocolVersionMajor, typeInteger, 2, make([]byte, 8)), integer(tagProtocolVersionMinor, 4))))},
		{name: "item overruns before header", msg: structure(tagRequestMessage, raw(tagObjectType, typeByteString, 1000, make([]byte, 8)), requestHeader(1, 4))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			major, minor, ok := PeekVersion(tt.msg)
			if major != tt.major || minor != tt.minor || ok != tt.ok {
				t.Fatalf("PeekVersion() = %d, %d, %v; want %d, %d, %v", major, minor, ok, tt.major, tt.minor, tt.ok)
			}
		})
	}
}
