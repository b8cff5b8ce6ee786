package sharing

import (
	"fmt"
	"math/big"

	"github.com/ovh/kmip-go"
)

func checkMethod(method kmip.SplitKeyMethod) error {
	switch method {
	case kmip.SplitKeyMethodXOR, kmip.SplitKeyMethodPolynomialSharingGF28,
		kmip.SplitKeyMethodPolynomialSharingGF216, kmip.SplitKeyMethodPolynomialSharingPrimeField:
		return nil
	}
	return fmt.Errorf("%w: method %d", ErrMethod, uint32(method))
}

func checkSplit(method kmip.SplitKeyMethod, secretLen, parts, threshold int, prime *big.Int) error {
	if err := checkMethod(method); err != nil {
		return err
	}
	if parts < 2 || parts > MaxParts {
		return fmt.Errorf("%w: %d parts, want 2 to %d", ErrParts, parts, MaxParts)
	}
	if threshold < 1 || threshold > parts {
		return fmt.Errorf("%w: threshold %d, want 1 to %d", ErrThreshold, threshold, parts)
	}
	if err := checkXORThreshold(method, threshold, parts); err != nil {
		return err
	}
	if err := checkSecretLen(secretLen); err != nil {
		return err
	}
	return checkPrime(method, prime, secretLen)
}

// checkXORThreshold: "When the Split Key Method is XOR ... The number of
// split keys is Split Key Parts (identical to Split Key Threshold)" (KMIP
// 1.2 §2.2.5).
func checkXORThreshold(method kmip.SplitKeyMethod, threshold, parts int) error {
	if method == kmip.SplitKeyMethodXOR && threshold != parts {
		return fmt.Errorf("%w: XOR needs every part, threshold %d of %d parts", ErrThreshold, threshold, parts)
	}
	return nil
}

func checkSecretLen(n int) error {
	if n < 1 || n > MaxSecretBytes {
		return fmt.Errorf("%w: %d bytes, want 1 to %d", ErrSecretLength, n, MaxSecretBytes)
	}
	return nil
}

// checkPrime: "When the Split Key Method is Polynomial Sharing Prime Field,
// then secret sharing is performed in the field GF(Prime Field Size),
// represented as integers, where Prime Field Size is a prime bigger than
// 2^L" (KMIP 1.2 §2.2.5), L being the secret's length in bits. Every other
// method has no prime; one given to it is a caller's mistake.
func checkPrime(method kmip.SplitKeyMethod, p *big.Int, secretLen int) error {
	if method != kmip.SplitKeyMethodPolynomialSharingPrimeField {
		if p != nil {
			return fmt.Errorf("%w: only Polynomial Sharing Prime Field has a prime", ErrPrime)
		}
		return nil
	}
	switch {
	case p == nil:
		return fmt.Errorf("%w: missing", ErrPrime)
	case p.Sign() <= 0 || p.BitLen() > MaxPrimeBits:
		return fmt.Errorf("%w: want a positive prime of at most %d bits", ErrPrime, MaxPrimeBits)
	case p.BitLen() <= 8*secretLen:
		// p > 2^L exactly when p has more than L bits.
		return fmt.Errorf("%w: %d bits is not bigger than 2^%d", ErrPrime, p.BitLen(), 8*secretLen)
	case hasSmallFactor(p) || !p.ProbablyPrime(0):
		return fmt.Errorf("%w: not prime", ErrPrime)
	}
	return nil
}

// The primality test is Baillie-PSW alone (ProbablyPrime(0)): no composite
// is known to pass it, and math/big's extra Miller-Rabin rounds use bases
// derived from the input, which add nothing against a crafted composite but
// cost seconds at 8192 bits (BPSW alone takes about 1.6 s there, 20 rounds
// more about 10 s). What the arithmetic itself needs is weaker and is
// checked exactly by hasSmallFactor: every difference of two part
// identifiers (1 to 254) must be invertible mod p. A composite that passed
// both would still split and join correctly; only its secrecy would be
// weaker, and the prime is the client's own choice.

// hasSmallFactor reports whether p has a prime factor below 256 (p itself
// is bigger than 256 when this is called, so a factor is a proper one).
func hasSmallFactor(p *big.Int) bool {
	var r, d big.Int
	for q := int64(2); q < 256; q++ {
		if isSmallPrime(q) && r.Mod(p, d.SetInt64(q)).Sign() == 0 {
			return true
		}
	}
	return false
}

func isSmallPrime(q int64) bool {
	for d := int64(2); d*d <= q; d++ {
		if q%d == 0 {
			return false
		}
	}
	return true
}

func checkJoin(method kmip.SplitKeyMethod, shares []Share, threshold int, prime *big.Int, secretLen int) error {
	if err := checkMethod(method); err != nil {
		return err
	}
	minThreshold := 1
	if method == kmip.SplitKeyMethodXOR {
		minThreshold = 2
	}
	if threshold < minThreshold || threshold > MaxParts {
		return fmt.Errorf("%w: threshold %d, want %d to %d", ErrThreshold, threshold, minThreshold, MaxParts)
	}
	if err := checkSecretLen(secretLen); err != nil {
		return err
	}
	if err := checkPrime(method, prime, secretLen); err != nil {
		return err
	}
	if len(shares) < threshold {
		return fmt.Errorf("%w: %d of %d", ErrTooFewShares, len(shares), threshold)
	}
	if len(shares) > MaxParts {
		return fmt.Errorf("%w: %d, at most %d", ErrTooManyShares, len(shares), MaxParts)
	}
	if err := checkIDs(method, shares, threshold); err != nil {
		return err
	}
	return checkShareLengths(method, shares, prime, secretLen)
}

// checkIDs checks that every Key Part Identifier is from 1 to MaxParts (for
// XOR, 1 to threshold, which is also Split Key Parts) and that none repeats:
// two shares at one x coordinate make the interpolation divide by zero.
func checkIDs(method kmip.SplitKeyMethod, shares []Share, threshold int) error {
	maxID := MaxParts
	if method == kmip.SplitKeyMethodXOR {
		maxID = threshold
	}
	var seen [MaxParts + 1]bool
	for _, s := range shares {
		if s.ID < 1 || s.ID > maxID {
			return fmt.Errorf("%w: %d, want 1 to %d", ErrPartID, s.ID, maxID)
		}
		if seen[s.ID] {
			return fmt.Errorf("%w: %d", ErrDuplicatePart, s.ID)
		}
		seen[s.ID] = true
	}
	return nil
}

// checkShareLengths: byte-wise methods need every share exactly as long as
// their encoding of the secret; prime-field shares are integers below the
// prime, at most as long as the prime, leading zero bytes optional.
func checkShareLengths(method kmip.SplitKeyMethod, shares []Share, prime *big.Int, secretLen int) error {
	if method == kmip.SplitKeyMethodPolynomialSharingPrimeField {
		maxLen := (prime.BitLen() + 7) / 8
		for _, s := range shares {
			if len(s.Value) < 1 || len(s.Value) > maxLen {
				return fmt.Errorf("%w: part %d is %d bytes, want 1 to %d", ErrShareLength, s.ID, len(s.Value), maxLen)
			}
			v := new(big.Int).SetBytes(s.Value)
			below := v.Cmp(prime) < 0
			wipeInt(v)
			if !below {
				return fmt.Errorf("%w: part %d is not below the prime", ErrShareLength, s.ID)
			}
		}
		return nil
	}
	want := shareLen(method, secretLen)
	for _, s := range shares {
		if len(s.Value) != want {
			return fmt.Errorf("%w: part %d is %d bytes, want %d", ErrShareLength, s.ID, len(s.Value), want)
		}
	}
	return nil
}
