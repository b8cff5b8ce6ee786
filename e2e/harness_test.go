package e2e_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/e2e/harness"
)

// TestHarness exercises the harness itself: every way of talking to a node,
// and Kill, Restart and Stop keeping the data directory.
func TestHarness(t *testing.T) {
	node := harness.StartDev(t, "")

	req := kmip.NewRequestMessage(kmip.V1_2, &payloads.DiscoverVersionsRequestPayload{})
	var resp kmip.ResponseMessage
	if err := ttlv.UnmarshalTTLV(node.Roundtrip(t, ttlv.MarshalTTLV(&req)), &resp); err != nil {
		t.Fatalf("decode Discover Versions response: %v", err)
	}
	if len(resp.BatchItem) != 1 || resp.BatchItem[0].ResultStatus != kmip.ResultStatusSuccess {
		t.Fatalf("Discover Versions: %+v", resp.BatchItem)
	}

	created, err := node.Client(t).Create().AES(256, kmip.CryptographicUsageEncrypt).
		WithName("harness-key").ExecContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out, err := node.Kmsctl(t, "key", "get", created.UniqueIdentifier)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, created.UniqueIdentifier) {
		t.Errorf("kmsctl key get does not mention %s:\n%s", created.UniqueIdentifier, out)
	}

	node.Kill()
	node.Restart(t)
	if _, err := node.Client(t).Get(created.UniqueIdentifier).ExecContext(context.Background()); err != nil {
		t.Fatalf("after kill and restart: %v", err)
	}
	node.Stop()
	node.Restart(t)
	if conn := node.Dial(t); !conn.ConnectionState().HandshakeComplete {
		t.Fatal("TLS handshake not complete")
	}
}
