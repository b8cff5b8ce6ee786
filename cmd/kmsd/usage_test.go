package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/cluster/devpki"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/kmip/kmiptest"
	"github.com/kmsd/kmsd/proto/adminpb"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// TestHostTenantUsage: keys created over KMIP show in the usage the admin
// API reads after a read barrier, next to the default quota.
func TestHostTenantUsage(t *testing.T) {
	cfg := testHostConfig(t, seal.InitOptions{})
	h := serveHost(t, cfg)
	ctx := t.Context()
	pki := devpki.PathsIn(filepath.Join(filepath.Dir(cfg.DataDir), "pki"))
	op := adminClient(t, pki, h.grpcLn.Addr().String(), pki.AdminCert, pki.AdminKey)

	conn, err := kmipConn(pki, h.kmipAddr, pki.ClientCert, pki.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	create := &payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: kmip.TemplateAttribute{Attribute: []kmip.Attribute{
		{AttributeName: kmip.AttributeNameCryptographicAlgorithm, AttributeValue: kmip.CryptographicAlgorithmAES},
		{AttributeName: kmip.AttributeNameCryptographicLength, AttributeValue: int32(256)},
		{AttributeName: kmip.AttributeNameCryptographicUsageMask, AttributeValue: kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt},
	}}}
	for range 2 {
		req := kmip.NewRequestMessage(kmip.V1_2, create)
		b, err := kmiptest.RoundTrip(conn, ttlv.MarshalTTLV(&req), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if resp := kmiptest.DecodeResponse(t, b); resp.BatchItem[0].ResultStatus != kmip.ResultStatusSuccess {
			t.Fatalf("create: %+v", resp.BatchItem[0])
		}
	}
	if _, err := op.SetPolicy(ctx, &adminpb.SetPolicyRequest{Entries: []*kmsdpb.PolicyEntry{
		{Name: "*", Entry: &kmsdpb.PolicyEntry_Tenant{Tenant: &kmsdpb.PolicyTenant{MaxObjects: 10}}},
	}}); err != nil {
		t.Fatal(err)
	}

	all, err := op.TenantUsage(ctx, &adminpb.TenantUsageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.GetTenants()) != 1 {
		t.Fatalf("tenants: %v", all.GetTenants())
	}
	u := all.GetTenants()[0]
	if u.GetObjects() != 2 || u.GetBytes() < 64 || u.GetMaxObjects() != 10 || u.GetMaxBytes() != 0 || u.GetQuotaEntry() != "*" {
		t.Errorf("usage of the client's tenant: %v", u)
	}
	one, err := op.TenantUsage(ctx, &adminpb.TenantUsageRequest{Tenant: u.GetTenant()})
	if err != nil || len(one.GetTenants()) != 1 || one.GetTenants()[0].GetBytes() != u.GetBytes() {
		t.Errorf("usage of %s: %v %v", u.GetTenant(), one, err)
	}
}
