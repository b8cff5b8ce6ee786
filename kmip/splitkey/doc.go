// Package splitkey checks registered Split Key objects (KMIP 1.4 §2.2.5):
// the split parameters (parts, threshold, part number, method, prime field
// size) must be consistent, and the part's key block readable and bounded.
// It validates objects only; it neither splits nor rebuilds keys.
package splitkey
