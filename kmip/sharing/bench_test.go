package sharing

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkSplitLargest splits the largest secret into the most parts with
// the highest threshold: the most work one Create Split Key can ask for.
func BenchmarkSplitLargest(b *testing.B) {
	secret := make([]byte, MaxSecretBytes)
	for _, m := range allMethods[:3] {
		th := MaxParts
		b.Run(fmt.Sprint("method-", uint32(m)), func(b *testing.B) {
			for b.Loop() {
				if _, err := Split(m, secret, MaxParts, th, nil, rand.NewChaCha8([32]byte{})); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	p := pow2Minus(4423, 1) // a Mersenne prime of 4423 bits
	b.Run("prime-4423", func(b *testing.B) {
		s := secret[:552] // 4416 bits
		for b.Loop() {
			if _, err := Split(prime, s, MaxParts, MaxParts, p, rand.NewChaCha8([32]byte{})); err != nil {
				b.Fatal(err)
			}
		}
	})
}
