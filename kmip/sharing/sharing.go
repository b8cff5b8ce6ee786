package sharing

import (
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/ovh/kmip-go"
)

// Bounds on what Split and Join accept.
const (
	// MaxParts bounds Split Key Parts and Key Part Identifiers for every
	// method. GF(2^8) cannot have more than 255 distinct non-zero x
	// coordinates; GF(2^16) could, but no deployment needs more and one
	// bound keeps the cost of a split predictable.
	MaxParts = 255
	// MaxSecretBytes bounds the secret (8192 bits), and with it the work a
	// split does: parts × threshold × length field multiplications.
	MaxSecretBytes = 1024
	// MaxPrimeBits bounds the Prime Field Size. Because the prime must be
	// bigger than 2^L for an L-bit secret, a prime-field secret is at most
	// 1023 bytes.
	MaxPrimeBits = 8192
)

// Errors. Each is wrapped with %w and a short description of the bound that
// was crossed; none carries key material.
var (
	ErrMethod        = errors.New("sharing: split key method not supported")
	ErrParts         = errors.New("sharing: split key parts out of range")
	ErrThreshold     = errors.New("sharing: split key threshold out of range")
	ErrSecretLength  = errors.New("sharing: secret length out of range")
	ErrPrime         = errors.New("sharing: prime field size not usable")
	ErrTooFewShares  = errors.New("sharing: fewer key parts than the threshold")
	ErrTooManyShares = errors.New("sharing: more key parts than allowed")
	ErrPartID        = errors.New("sharing: key part identifier out of range")
	ErrDuplicatePart = errors.New("sharing: duplicate key part identifier")
	ErrShareLength   = errors.New("sharing: key part length does not match")
	ErrInconsistent  = errors.New("sharing: key parts do not belong to one split")
	ErrRandom        = errors.New("sharing: random source failed")
)

// Share is one Split Key part: ID is its Key Part Identifier (1-based) and
// Value its Key Material.
type Share struct {
	ID    int
	Value []byte
}

// Split splits secret into parts shares, any threshold of which rebuild it,
// by method. prime is the Prime Field Size for Polynomial Sharing Prime
// Field and must be nil for every other method. Random polynomial
// coefficients (and XOR pads) are read from rand, which must be
// crypto/rand.Reader outside tests. Shares are returned in ID order, 1 to
// parts.
func Split(method kmip.SplitKeyMethod, secret []byte, parts, threshold int, prime *big.Int, rand io.Reader) ([]Share, error) {
	if err := checkSplit(method, len(secret), parts, threshold, prime); err != nil {
		return nil, err
	}
	if rand == nil {
		return nil, fmt.Errorf("%w: no reader", ErrRandom)
	}
	var (
		shares []Share
		err    error
	)
	switch method {
	case kmip.SplitKeyMethodXOR:
		shares, err = splitXOR(secret, parts, rand)
	case kmip.SplitKeyMethodPolynomialSharingGF28:
		shares, err = gf8Field.split(secret, parts, threshold, rand)
	case kmip.SplitKeyMethodPolynomialSharingGF216:
		shares, err = splitGF16(secret, parts, threshold, rand)
	case kmip.SplitKeyMethodPolynomialSharingPrimeField:
		shares, err = splitPrime(secret, parts, threshold, prime, rand)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRandom, err)
	}
	return shares, nil
}

// Join rebuilds a secret of secretLen bytes from shares split by method
// with the given threshold (and, for the prime field, prime). It needs at
// least threshold shares; when it is given more, the extra ones must lie on
// the same polynomial (for XOR, exactly threshold shares, every part).
// A polynomial method given the wrong threshold-sized set of parts returns
// a wrong secret, not an error: a share carries no integrity, which the
// server's checks on the joined key (or the key's use) must supply.
func Join(method kmip.SplitKeyMethod, shares []Share, threshold int, prime *big.Int, secretLen int) ([]byte, error) {
	if err := checkJoin(method, shares, threshold, prime, secretLen); err != nil {
		return nil, err
	}
	switch method {
	case kmip.SplitKeyMethodXOR:
		return joinXOR(shares, secretLen), nil
	case kmip.SplitKeyMethodPolynomialSharingGF28:
		return gf8Field.join(shares, threshold, secretLen)
	case kmip.SplitKeyMethodPolynomialSharingGF216:
		return joinGF16(shares, threshold, secretLen)
	default:
		return joinPrime(shares, threshold, prime, secretLen)
	}
}

// shareLen is the length of every share's Value for a secret of n bytes
// (the prime field, whose shares are as long as the prime, aside).
func shareLen(method kmip.SplitKeyMethod, n int) int {
	if method == kmip.SplitKeyMethodPolynomialSharingGF216 {
		return n + n%2
	}
	return n
}
