package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Sentinel errors. Callers test them with errors.Is; the wrapped text adds an
// offset and a tag for logs and is never sent to clients.
var (
	// ErrTooLarge reports a message longer than Limits.MaxMessageSize.
	ErrTooLarge = errors.New("wire: message too large")
	// ErrMalformed reports a message that breaks a TTLV encoding rule.
	ErrMalformed = errors.New("wire: malformed message")
	// ErrUnexpectedTag reports a top-level item that is not a Request Message.
	ErrUnexpectedTag = errors.New("wire: unexpected top-level tag")
	// ErrTooDeep reports structures nested deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("wire: structures nested too deep")
	// ErrTooManyItems reports a message with more than Limits.MaxItems items.
	ErrTooManyItems = errors.New("wire: too many items")
)

// Default limits, used for zero (or negative) fields of Limits.
const (
	DefaultMaxMessageSize = 1 << 20
	DefaultMaxDepth       = 32
	DefaultMaxItems       = 100000
)

// headerSize is the size of a TTLV item header: 3-byte tag, 1-byte type and
// 4-byte length.
const headerSize = 8

// Tags this package looks at (KMIP 1.x section 9.1.3.1).
const (
	tagRequestMessage       = 0x420078
	tagRequestHeader        = 0x420077
	tagProtocolVersion      = 0x420069
	tagProtocolVersionMajor = 0x42006A
	tagProtocolVersionMinor = 0x42006B
)

// Item types (KMIP 1.x section 9.1.1.2); any other value is invalid.
const (
	typeStructure   = 0x01
	typeInteger     = 0x02
	typeLongInteger = 0x03
	typeBigInteger  = 0x04
	typeEnumeration = 0x05
	typeBoolean     = 0x06
	typeTextString  = 0x07
	typeByteString  = 0x08
	typeDateTime    = 0x09
	typeInterval    = 0x0A
)

// fixedLength returns the only Item Length allowed for a fixed-size type
// (KMIP 1.x section 9.1.1.3); ok is false for Structure, Big Integer, the
// strings and unknown types.
func fixedLength(typ byte) (length uint32, ok bool) {
	switch typ {
	case typeInteger, typeEnumeration, typeInterval:
		return 4, true
	case typeLongInteger, typeBoolean, typeDateTime:
		return 8, true
	}
	return 0, false
}

// Limits bounds what a message may contain.
type Limits struct {
	MaxMessageSize int // bytes of the whole message including the 8-byte header; 0 means 1 MiB default
	MaxDepth       int // structure nesting depth; 0 means default 32
	MaxItems       int // total number of items in a message; 0 means default 100000
}

// withDefaults fills zero or negative fields with the package defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxMessageSize <= 0 {
		l.MaxMessageSize = DefaultMaxMessageSize
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxItems <= 0 {
		l.MaxItems = DefaultMaxItems
	}
	return l
}

// header is a decoded TTLV item header.
type header struct {
	tag    uint32
	typ    byte
	length uint32
}

func parseHeader(b []byte) header {
	return header{
		tag:    uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:    b[3],
		length: binary.BigEndian.Uint32(b[4:8]),
	}
}

// paddedLength is the number of value bytes an item occupies on the wire:
// its length rounded up to a multiple of 8. It is computed in 64 bits so a
// length near 4 GiB cannot overflow on 32-bit platforms.
func paddedLength(length uint32) uint64 {
	return (uint64(length) + 7) &^ 7
}

// ReadMessage reads exactly one TTLV message from r: it reads the 8-byte header, checks that the tag is
// 0x420078 (Request Message) and the type is Structure, that the length is a multiple of 8 and that the whole message
// fits MaxMessageSize (before reading the body, so an oversized length never allocates), then reads the body.
// It returns the complete message bytes (header included).
//
// If r fails or ends before the header is complete, the error from r is returned: io.EOF for a clean close
// before any byte, io.ErrUnexpectedEOF once part of the message was read. ReadMessage checks only the framing;
// call Validate on the result before decoding it. After any error the stream position is unknown.
func ReadMessage(r io.Reader, lim Limits) ([]byte, error) {
	lim = lim.withDefaults()
	var hdr [headerSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	h := parseHeader(hdr[:])
	if h.tag != tagRequestMessage {
		return nil, fmt.Errorf("%w: tag 0x%06X", ErrUnexpectedTag, h.tag)
	}
	if h.typ != typeStructure {
		return nil, fmt.Errorf("%w: top-level type 0x%02X is not Structure", ErrMalformed, h.typ)
	}
	if h.length%8 != 0 {
		return nil, fmt.Errorf("%w: top-level length %d is not a multiple of 8", ErrMalformed, h.length)
	}
	if total := uint64(headerSize) + uint64(h.length); total > uint64(lim.MaxMessageSize) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, total, lim.MaxMessageSize)
	}
	msg := make([]byte, headerSize+int(h.length))
	copy(msg, hdr[:])
	if _, err := io.ReadFull(r, msg[headerSize:]); err != nil {
		if errors.Is(err, io.EOF) {
			// The header was read, so any end of stream is mid-message.
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return msg, nil
}

// Validate walks the whole message and checks every TTLV rule; nothing may trail the top-level item.
//
// The top-level item must be a Request Message Structure. Every item must carry a KMIP (0x42XXXX) or
// extension (0x54XXXX) tag, one of the ten defined types, the length that type allows (a multiple of 8 for
// Structure, a non-zero multiple of 8 for Big Integer), zero padding up to a multiple of 8 bytes, a Boolean of 0
// or 1, and valid UTF-8 in a Text String; each Structure's length must match its contents exactly. The message
// must fit lim.MaxMessageSize, and the item count and nesting depth the other limits; the top-level Structure
// counts as one item at depth 1.
func Validate(msg []byte, lim Limits) error {
	lim = lim.withDefaults()
	if len(msg) > lim.MaxMessageSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(msg), lim.MaxMessageSize)
	}
	if len(msg) < headerSize {
		return fmt.Errorf("%w: truncated header at offset 0", ErrMalformed)
	}
	h := parseHeader(msg)
	if h.tag != tagRequestMessage {
		return fmt.Errorf("%w: tag 0x%06X", ErrUnexpectedTag, h.tag)
	}
	if h.typ != typeStructure {
		return fmt.Errorf("%w: top-level type 0x%02X is not Structure", ErrMalformed, h.typ)
	}
	v := validator{lim: lim}
	end, err := v.item(msg, 0, 1)
	if err != nil {
		return err
	}
	if end != len(msg) {
		return fmt.Errorf("%w: %d trailing bytes after offset %d", ErrMalformed, len(msg)-end, end)
	}
	return nil
}

// validator carries the limits and the running item count of one Validate call.
type validator struct {
	lim   Limits
	items int
}

// item validates the item starting at msg[off:] and returns the offset just
// past it (value and padding). depth is the nesting depth the item would have
// if it were a Structure. Offsets are absolute within msg so errors can point
// at the faulty item.
func (v *validator) item(msg []byte, off, depth int) (int, error) {
	if len(msg)-off < headerSize {
		return 0, fmt.Errorf("%w: truncated header at offset %d", ErrMalformed, off)
	}
	h := parseHeader(msg[off:])
	v.items++
	if v.items > v.lim.MaxItems {
		return 0, fmt.Errorf("%w: more than %d items at offset %d", ErrTooManyItems, v.lim.MaxItems, off)
	}
	// Section 9.1.1.1: tags hold 0x42 (KMIP) or 0x54 (extensions) in the
	// high order byte, so that malformed messages are detected more easily.
	if first := h.tag >> 16; first != 0x42 && first != 0x54 {
		return 0, fmt.Errorf("%w: tag 0x%06X at offset %d has an invalid prefix", ErrMalformed, h.tag, off)
	}
	start := off + headerSize
	if paddedLength(h.length) > uint64(len(msg)-start) {
		return 0, fmt.Errorf("%w: tag 0x%06X at offset %d: value of %d bytes runs past its container",
			ErrMalformed, h.tag, off, h.length)
	}
	end := start + int(paddedLength(h.length))
	value := msg[start : start+int(h.length)]
	if err := checkValue(h, value); err != nil {
		return 0, fmt.Errorf("%w: tag 0x%06X at offset %d: %s", ErrMalformed, h.tag, off, err)
	}
	// Section 9.1.2: values are padded to a multiple of eight bytes; the
	// padding carries no data and must be zero.
	for _, b := range msg[start+int(h.length) : end] {
		if b != 0 {
			return 0, fmt.Errorf("%w: tag 0x%06X at offset %d: non-zero padding", ErrMalformed, h.tag, off)
		}
	}
	if h.typ == typeStructure {
		if depth > v.lim.MaxDepth {
			return 0, fmt.Errorf("%w: depth %d at offset %d, limit %d", ErrTooDeep, depth, off, v.lim.MaxDepth)
		}
		if err := v.children(msg[:end], start, depth+1); err != nil {
			return 0, err
		}
	}
	return end, nil
}

// children validates the items packed in msg[off:], which must fill it
// exactly; msg is cut at the end of the enclosing Structure so no child can
// claim bytes beyond it.
func (v *validator) children(msg []byte, off, depth int) error {
	for off < len(msg) {
		next, err := v.item(msg, off, depth)
		if err != nil {
			return err
		}
		off = next
	}
	return nil
}

// checkValue applies the per-type rules of sections 9.1.1.2 to 9.1.1.4 to an
// item's unpadded value. Its errors never quote the value, which may be key
// material.
func checkValue(h header, value []byte) error {
	if want, ok := fixedLength(h.typ); ok && h.length != want {
		return fmt.Errorf("type 0x%02X has length %d, want %d", h.typ, h.length, want)
	}
	switch h.typ {
	case typeStructure:
		// Section 9.1.1.3: a Structure's length is the total length of its
		// sub-items including padding, hence a multiple of 8.
		if h.length%8 != 0 {
			return fmt.Errorf("structure length %d is not a multiple of 8", h.length)
		}
	case typeBigInteger:
		// Section 9.1.1.4: Big Integers SHALL be padded with leading
		// sign-extended bytes to a multiple of eight bytes.
		if h.length == 0 || h.length%8 != 0 {
			return fmt.Errorf("big integer length %d is not a non-zero multiple of 8", h.length)
		}
	case typeBoolean:
		// Section 9.1.1.4: a Boolean SHALL be 0 (False) or 1 (True).
		if binary.BigEndian.Uint64(value) > 1 {
			return errors.New("boolean is neither 0 nor 1")
		}
	case typeTextString:
		// Section 9.1.1.4: Text Strings are UTF-8.
		if !utf8.Valid(value) {
			return errors.New("text string is not valid UTF-8")
		}
	case typeInteger, typeLongInteger, typeEnumeration, typeByteString, typeDateTime, typeInterval:
		// Length checked above (or free, for Byte String); any bit pattern is valid.
	default:
		return fmt.Errorf("unknown type 0x%02X", h.typ)
	}
	return nil
}

// PeekVersion best-effort extracts the Protocol Version (major, minor) from a Request Header of a message that failed
// validation, without trusting lengths beyond bounds; ok=false if it cannot.
func PeekVersion(msg []byte) (major, minor int32, ok bool) {
	body, ok := lookup(msg, tagRequestMessage, typeStructure)
	if !ok {
		return 0, 0, false
	}
	hdr, ok := lookup(body, tagRequestHeader, typeStructure)
	if !ok {
		return 0, 0, false
	}
	pv, ok := lookup(hdr, tagProtocolVersion, typeStructure)
	if !ok {
		return 0, 0, false
	}
	maj, okMaj := lookup(pv, tagProtocolVersionMajor, typeInteger)
	mnr, okMin := lookup(pv, tagProtocolVersionMinor, typeInteger)
	if !okMaj || !okMin || len(maj) != 4 || len(mnr) != 4 {
		return 0, 0, false
	}
	return int32(binary.BigEndian.Uint32(maj)), int32(binary.BigEndian.Uint32(mnr)), true
}

// lookup scans the items packed in buf for the first one with the given tag
// and type and returns its value. A value whose length runs past buf is cut
// at the end of buf; the scan stops at the first header that does not fit or
// the first item whose padded value runs past buf.
func lookup(buf []byte, tag uint32, typ byte) ([]byte, bool) {
	for off := 0; len(buf)-off >= headerSize; {
		h := parseHeader(buf[off:])
		start := off + headerSize
		if h.tag == tag && h.typ == typ {
			end := uint64(start) + uint64(h.length)
			if end > uint64(len(buf)) {
				end = uint64(len(buf))
			}
			return buf[start:int(end)], true
		}
		if paddedLength(h.length) > uint64(len(buf)-start) {
			return nil, false
		}
		off = start + int(paddedLength(h.length))
	}
	return nil, false
}
