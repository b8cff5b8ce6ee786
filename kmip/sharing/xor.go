package sharing

import "io"

// splitXOR: "When the Split Key Method is XOR, then the Key Material in the
// Key Value of the Key Block is of length L bits. ... the secret is
// reconstructed by XORing all of the parts" (KMIP 1.2 §2.2.5). Parts 1 to
// parts-1 are read from rand; the last is the secret XOR all of them, as
// the parts in TC-SJ-4-12 are.
func splitXOR(secret []byte, parts int, rand io.Reader) ([]Share, error) {
	shares := make([]Share, parts)
	last := make([]byte, len(secret))
	copy(last, secret)
	for i := range parts - 1 {
		pad := make([]byte, len(secret))
		if _, err := io.ReadFull(rand, pad); err != nil {
			wipeShares(shares)
			clear(last)
			return nil, err
		}
		for j := range pad {
			last[j] ^= pad[j]
		}
		shares[i] = Share{ID: i + 1, Value: pad}
	}
	shares[parts-1] = Share{ID: parts, Value: last}
	return shares, nil
}

// joinXOR XORs every share; checkJoin has made sure there are exactly
// threshold (= Split Key Parts) of them, each secretLen bytes.
func joinXOR(shares []Share, secretLen int) []byte {
	out := make([]byte, secretLen)
	for _, s := range shares {
		for j := range out {
			out[j] ^= s.Value[j]
		}
	}
	return out
}

func wipeShares(shares []Share) {
	for _, s := range shares {
		clear(s.Value)
	}
}
