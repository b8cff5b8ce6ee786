//go:build cgo

package seal

import "testing"

// TestRewriteRecordPKCS11 writes seal.json again with the HSM key and the
// PIN kept since the unseal: the same PIN then unseals the new root key.
func TestRewriteRecordPKCS11(t *testing.T) {
	module := softHSM(t)
	opts := InitOptions{Method: MethodPKCS11, PKCS11: PKCS11Options{Module: module, TokenLabel: testToken, KeyLabel: "kmsd-rotate-test", PIN: testPIN}}
	testRewrite(t, func(t *testing.T) (*rotCluster, rewriteCase) {
		c, _ := newRotCluster(t, opts)
		return c, rewriteCase{unseal: func(_ *testing.T, b *Barrier, dir string) error { return b.UnsealPKCS11(dir, testPIN) }}
	})
}
