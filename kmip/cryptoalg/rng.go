package cryptoalg

import "crypto/rand"

// Random returns n bytes from crypto/rand for RNG Retrieve. n must be
// positive and at most max, the bound the server sets for one response.
func Random(n, max int) ([]byte, error) {
	if n <= 0 {
		return nil, invalid("Data Length must be positive")
	}
	if n > max {
		return nil, fail(ErrLimit, "Data Length %d exceeds the maximum of %d bytes", n, max)
	}
	b := make([]byte, n)
	// crypto/rand.Read never returns an error (it crashes the program
	// if the system generator fails), so none is handled here.
	_, _ = rand.Read(b)
	return b, nil
}
