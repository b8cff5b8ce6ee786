package seal

import (
	"bytes"
	"testing"
)

// An AES-256 key's KMIP Symmetric Key structure is about 100 bytes of TTLV.
var benchMaterial = bytes.Repeat([]byte{0x42}, 104)

func BenchmarkSealObject(b *testing.B) {
	c, _ := newTestCluster(b, InitOptions{})
	bd := Binding{ID: "0f6c3a52-6f2c-4d1e-9a3b-29d1c0a1e7f4", Owner: "tenant-a"}
	b.SetBytes(int64(len(benchMaterial)))
	for b.Loop() {
		if _, err := c.b.SealObject(bd, benchMaterial); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenObject(b *testing.B) {
	c, _ := newTestCluster(b, InitOptions{})
	bd := Binding{ID: "0f6c3a52-6f2c-4d1e-9a3b-29d1c0a1e7f4", Owner: "tenant-a"}
	blob, err := c.b.SealObject(bd, benchMaterial)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchMaterial)))
	for b.Loop() {
		if _, err := c.b.OpenObject(bd, blob); err != nil {
			b.Fatal(err)
		}
	}
}
