package kmip_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"sync"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func encryptReq(id string, p *kmip.CryptographicParameters, data, iv []byte) *payloads.EncryptRequestPayload {
	return &payloads.EncryptRequestPayload{UniqueIdentifier: id, CryptographicParameters: p, Data: data, IVCounterNonce: iv}
}

func usage(mask kmip.CryptographicUsageMask) kmip.Attribute {
	return attr(kmip.AttributeNameCryptographicUsageMask, mask)
}

var gcm16 = &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeGCM, TagLength: 16}

// TestEncryptGCMVector follows OASIS CS-BC-M-GCM-1-14 (test case 2 of the
// GCM specification): a zero key, IV and plaintext; in 1.4 the tag is a
// field of its own, and a changed tag fails to decrypt.
func TestEncryptGCMVector(t *testing.T) {
	f := kmiptest.New(t)
	id := register(t, f, kmip.V1_4, rawKey(kmip.CryptographicAlgorithmAES, 128, make([]byte, 16)),
		usage(kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt), activeSince())
	wantCT := mustHex("0388dace60b6a392f328c2b971b2fe78")
	wantTag := mustHex("ab6e47d42cec13bdf53a67b21257bddf")
	enc := ok[*payloads.EncryptResponsePayload](t, do(t, f, kmip.V1_4, encryptReq(id, gcm16, make([]byte, 16), make([]byte, 12))))
	if !bytes.Equal(enc.Data, wantCT) || !bytes.Equal(enc.AuthenticatedEncryptionTag, wantTag) || enc.IVCounterNonce != nil {
		t.Fatalf("Encrypt = data %x tag %x iv %x", enc.Data, enc.AuthenticatedEncryptionTag, enc.IVCounterNonce)
	}
	dec := &payloads.DecryptRequestPayload{UniqueIdentifier: id, CryptographicParameters: gcm16, Data: wantCT, IVCounterNonce: make([]byte, 12), AuthenticatedEncryptionTag: wantTag}
	if got := ok[*payloads.DecryptResponsePayload](t, do(t, f, kmip.V1_4, dec)).Data; !bytes.Equal(got, make([]byte, 16)) {
		t.Fatalf("Decrypt = %x", got)
	}
	bad := *dec
	bad.AuthenticatedEncryptionTag = append([]byte{wantTag[0] ^ 1}, wantTag[1:]...)
	fails(t, do(t, f, kmip.V1_4, &bad), kmip.ResultReasonCryptographicFailure)

	// 1.2 has no tag field: the tag follows the ciphertext.
	enc12 := ok[*payloads.EncryptResponsePayload](t, do(t, f, kmip.V1_2, encryptReq(id, gcm16, make([]byte, 16), make([]byte, 12))))
	if !bytes.Equal(enc12.Data, append(wantCT, wantTag...)) {
		t.Fatalf("1.2 Encrypt = %x", enc12.Data)
	}
	dec12 := &payloads.DecryptRequestPayload{UniqueIdentifier: id, CryptographicParameters: gcm16, Data: enc12.Data, IVCounterNonce: make([]byte, 12)}
	if got := ok[*payloads.DecryptResponsePayload](t, do(t, f, kmip.V1_2, dec12)).Data; !bytes.Equal(got, make([]byte, 16)) {
		t.Fatalf("1.2 Decrypt = %x", got)
	}
}

// TestEncryptCBCRandomIV: the server makes the IV when none is given and
// returns it; the stored Cryptographic Parameters apply when the request
// names none.
func TestEncryptCBCRandomIV(t *testing.T) {
	f := kmiptest.New(t)
	random := true
	cbc := kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC, PaddingMethod: kmip.PaddingMethodPKCS5, RandomIV: &random}
	id := create(t, f, kmip.V1_4, activeSince(), attr(kmip.AttributeNameCryptographicParameters, cbc))
	msg := []byte("seventeen bytes!!")
	enc := ok[*payloads.EncryptResponsePayload](t, do(t, f, kmip.V1_4, encryptReq(id, nil, msg, nil)))
	if len(enc.IVCounterNonce) != 16 || len(enc.Data) != 32 {
		t.Fatalf("Encrypt = %d bytes, IV %d bytes; want 32 and 16", len(enc.Data), len(enc.IVCounterNonce))
	}
	again := ok[*payloads.EncryptResponsePayload](t, do(t, f, kmip.V1_4, encryptReq(id, nil, msg, nil)))
	if bytes.Equal(again.IVCounterNonce, enc.IVCounterNonce) {
		t.Error("two encryptions got the same random IV")
	}
	dec := &payloads.DecryptRequestPayload{UniqueIdentifier: id, Data: enc.Data, IVCounterNonce: enc.IVCounterNonce}
	if got := ok[*payloads.DecryptResponsePayload](t, do(t, f, kmip.V1_4, dec)).Data; !bytes.Equal(got, msg) {
		t.Fatalf("Decrypt = %q", got)
	}
}

// TestEncryptRefuses covers who and what may not encrypt: keys in the
// wrong state, without the usage bit, of another tenant; no or too much
// data; streaming fields; versions before 1.2.
func TestEncryptRefuses(t *testing.T) {
	f := kmiptest.New(t)
	ecb := &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeECB}
	active := create(t, f, kmip.V1_4, activeSince())
	preActive := create(t, f, kmip.V1_4)
	noBit := createAs(t, f, alice, kmip.V1_4, template(
		attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES),
		attr(kmip.AttributeNameCryptographicLength, int32(256)),
		usage(kmip.CryptographicUsageDecrypt), activeSince()))
	theirs := createAs(t, f, bob, kmip.V1_4, aesTemplate(256, activeSince()))
	block := make([]byte, 16)
	yes := true
	tests := []struct {
		name string
		v    kmip.ProtocolVersion
		req  *payloads.EncryptRequestPayload
		want kmip.ResultReason
	}{
		{"pre-active", kmip.V1_4, encryptReq(preActive, ecb, block, nil), kmip.ResultReasonPermissionDenied},
		{"usage mask without Encrypt", kmip.V1_4, encryptReq(noBit, ecb, block, nil), kmip.ResultReasonPermissionDenied},
		{"another tenant's key", kmip.V1_4, encryptReq(theirs, ecb, block, nil), kmip.ResultReasonItemNotFound},
		{"too much data", kmip.V1_4, encryptReq(active, ecb, make([]byte, 1<<20+16), nil), kmip.ResultReasonInvalidField},
		{"no block cipher mode", kmip.V1_4, encryptReq(active, &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPKCS5}, block, nil), kmip.ResultReasonInvalidField},
		{"ECB without padding, partial block", kmip.V1_4, encryptReq(active, ecb, block[:5], nil), kmip.ResultReasonCryptographicFailure},
		{"streaming", kmip.V1_4, &payloads.EncryptRequestPayload{UniqueIdentifier: active, CryptographicParameters: ecb, Data: block, InitIndicator: &yes}, kmip.ResultReasonFeatureNotSupported},
		{"in 1.1", kmip.V1_1, encryptReq(active, ecb, block, nil), kmip.ResultReasonOperationNotSupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fails(t, do(t, f, tt.v, tt.req), tt.want)
		})
	}
}

// TestDecryptAfterDeactivation: a Deactivated or Compromised key no longer
// encrypts but still decrypts (KMIP 1.4 §3.22).
func TestDecryptAfterDeactivation(t *testing.T) {
	f := kmiptest.New(t)
	ecb := &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeECB}
	id := create(t, f, kmip.V1_4, activeSince())
	msg := bytes.Repeat([]byte{9}, 32)
	ct := ok[*payloads.EncryptResponsePayload](t, do(t, f, kmip.V1_4, encryptReq(id, ecb, msg, nil))).Data
	ok[*payloads.RevokeResponsePayload](t, do(t, f, kmip.V1_4, &payloads.RevokeRequestPayload{UniqueIdentifier: id,
		RevocationReason: kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeCessationOfOperation}}))
	fails(t, do(t, f, kmip.V1_4, encryptReq(id, ecb, msg, nil)), kmip.ResultReasonPermissionDenied)
	dec := &payloads.DecryptRequestPayload{UniqueIdentifier: id, CryptographicParameters: ecb, Data: ct}
	if got := ok[*payloads.DecryptResponsePayload](t, do(t, f, kmip.V1_4, dec)).Data; !bytes.Equal(got, msg) {
		t.Fatalf("Decrypt = %x", got)
	}
}

// TestEncryptRSA: a public key encrypts with OAEP, its private key
// decrypts; the usage masks decide which key does what.
func TestEncryptRSA(t *testing.T) {
	f := kmiptest.New(t)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	privID := register(t, f, kmip.V1_4, &kmip.PrivateKey{KeyBlock: pkcs1Block(kmip.CryptographicAlgorithmRSA, 2048, x509.MarshalPKCS1PrivateKey(priv))},
		usage(kmip.CryptographicUsageDecrypt), activeSince())
	pubID := register(t, f, kmip.V1_4, &kmip.PublicKey{KeyBlock: pkcs1Block(kmip.CryptographicAlgorithmRSA, 2048, x509.MarshalPKCS1PublicKey(&priv.PublicKey))},
		usage(kmip.CryptographicUsageEncrypt), activeSince())
	oaep := &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodOAEP, HashingAlgorithm: kmip.HashingAlgorithmSHA_256}
	msg := []byte("a data key")
	ct := ok[*payloads.EncryptResponsePayload](t, do(t, f, kmip.V1_4, encryptReq(pubID, oaep, msg, nil))).Data
	if len(ct) != 256 {
		t.Fatalf("ciphertext of %d bytes", len(ct))
	}
	dec := &payloads.DecryptRequestPayload{UniqueIdentifier: privID, CryptographicParameters: oaep, Data: ct}
	if got := ok[*payloads.DecryptResponsePayload](t, do(t, f, kmip.V1_4, dec)).Data; !bytes.Equal(got, msg) {
		t.Fatalf("Decrypt = %q", got)
	}
	fails(t, do(t, f, kmip.V1_4, encryptReq(privID, oaep, msg, nil)), kmip.ResultReasonIllegalOperation)
}

// TestEncryptUsageLimits: each Encrypt takes its allocation from the key's
// Usage Limits through the log, and concurrent requests never overdraw
// it; while one allocation is held back, the requests that wait for it
// share the next log entry.
func TestEncryptUsageLimits(t *testing.T) {
	f := kmiptest.New(t)
	ecb := &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeECB}
	id := create(t, f, kmip.V1_4, activeSince(),
		attr(kmip.AttributeNameUsageLimits, kmip.UsageLimits{UsageLimitsTotal: 10, UsageLimitsUnit: kmip.UsageLimitsUnitObject}))

	release := make(chan struct{})
	var once sync.Once
	f.Replicator.SetHook(func([]byte) { once.Do(func() { <-release }) })
	applied := f.Replicator.Applied()
	const clients = 16
	results := make(chan kmip.ResponseBatchItem, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() { results <- do(t, f, kmip.V1_4, encryptReq(id, ecb, make([]byte, 16), nil)) })
	}
	waitFor(t, "every request waiting for its allocation", func() bool { return f.Service.UsageWaiting(id) == clients })
	close(release)
	wg.Wait()
	close(results)
	succeeded := 0
	for bi := range results {
		if bi.ResultStatus == kmip.ResultStatusSuccess {
			succeeded++
		} else if bi.ResultReason != kmip.ResultReasonPermissionDenied {
			t.Errorf("refused with %v", bi.ResultReason)
		}
	}
	if succeeded != 10 {
		t.Errorf("%d encryptions succeeded, want the limit of 10", succeeded)
	}
	if c := usageCount(t, f, id); c != 0 {
		t.Errorf("count left %d, want 0", c)
	}
	// One entry for the first request, one for the 15 that waited, and one
	// for each of those when their sum did not fit.
	if n := f.Replicator.Applied() - applied; n > 2+clients-1 || n < 2 {
		t.Errorf("%d log entries for %d requests", n, clients)
	}
	fails(t, do(t, f, kmip.V1_4, encryptReq(id, ecb, make([]byte, 16), nil)), kmip.ResultReasonPermissionDenied)
}

// TestEncryptUsageBatched: requests within the limit that wait for one
// allocation are counted by a single log entry.
func TestEncryptUsageBatched(t *testing.T) {
	f := kmiptest.New(t)
	ecb := &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeECB}
	id := create(t, f, kmip.V1_4, activeSince(),
		attr(kmip.AttributeNameUsageLimits, kmip.UsageLimits{UsageLimitsTotal: 1000, UsageLimitsUnit: kmip.UsageLimitsUnitByte}))
	release := make(chan struct{})
	var once sync.Once
	f.Replicator.SetHook(func([]byte) { once.Do(func() { <-release }) })
	applied := f.Replicator.Applied()
	const clients = 20
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			ok[*payloads.EncryptResponsePayload](t, do(t, f, kmip.V1_4, encryptReq(id, ecb, make([]byte, 32), nil)))
		})
	}
	waitFor(t, "every request waiting for its allocation", func() bool { return f.Service.UsageWaiting(id) == clients })
	close(release)
	wg.Wait()
	if n := f.Replicator.Applied() - applied; n != 2 {
		t.Errorf("%d log entries for %d encryptions, want 2 (the first, then the 19 that waited)", n, clients)
	}
	if c := usageCount(t, f, id); c != 1000-clients*32 {
		t.Errorf("count %d, want %d", c, 1000-clients*32)
	}
}

// TestEncryptEmptyGCM: GCM over no data still answers the tag (test case 1
// of the GCM specification, as OASIS CS-BC-M-GCM-2-14 records it).
func TestEncryptEmptyGCM(t *testing.T) {
	f := kmiptest.New(t)
	id := register(t, f, kmip.V1_4, rawKey(kmip.CryptographicAlgorithmAES, 128, make([]byte, 16)),
		usage(kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt), activeSince())
	enc := ok[*payloads.EncryptResponsePayload](t, do(t, f, kmip.V1_4, encryptReq(id, gcm16, nil, make([]byte, 12))))
	if want := mustHex("58e2fccefa7e3061367f1d57a4e7455a"); len(enc.Data) != 0 || !bytes.Equal(enc.AuthenticatedEncryptionTag, want) {
		t.Fatalf("Encrypt = data %x tag %x", enc.Data, enc.AuthenticatedEncryptionTag)
	}
	dec := &payloads.DecryptRequestPayload{UniqueIdentifier: id, CryptographicParameters: gcm16, IVCounterNonce: make([]byte, 12), AuthenticatedEncryptionTag: enc.AuthenticatedEncryptionTag}
	if got := ok[*payloads.DecryptResponsePayload](t, do(t, f, kmip.V1_4, dec)).Data; len(got) != 0 {
		t.Fatalf("Decrypt = %x", got)
	}
}
