package kmip_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func archive(id string) kmip.OperationPayload {
	return &payloads.ArchiveRequestPayload{UniqueIdentifier: id}
}

func recoverReq(id string) kmip.OperationPayload {
	return &payloads.RecoverRequestPayload{UniqueIdentifier: id}
}

func locateByName(t *testing.T, f *kmiptest.Fixture, v kmip.ProtocolVersion, mask kmip.StorageStatusMask, n string) []string {
	t.Helper()
	req := &payloads.LocateRequestPayload{StorageStatusMask: mask, Attribute: []kmip.Attribute{name(n)}}
	return ok[*payloads.LocateResponsePayload](t, do(t, f, v, req)).UniqueIdentifier
}

// TestArchiveRecover follows OASIS TC-101 in every version: an archived key
// keeps its metadata, is found only when archived objects are asked for, and
// refuses the operations that use it until it is recovered.
func TestArchiveRecover(t *testing.T) {
	both := kmip.StorageStatusOnlineStorage | kmip.StorageStatusArchivalStorage
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			f := kmiptest.New(t)
			id := create(t, f, v, name("archiveKey"), attr(kmip.AttributeNameActivationDate, kmiptest.Epoch))
			f.Clock.Advance(time.Minute)
			archived := f.Clock.Now()
			if got := ok[*payloads.ArchiveResponsePayload](t, do(t, f, v, archive(id))).UniqueIdentifier; got != id {
				t.Fatalf("Archive answered %q", got)
			}
			if d, _ := value(getAttrs(t, f, v, id, kmip.AttributeNameArchiveDate), kmip.AttributeNameArchiveDate); !isTime(d, archived) {
				t.Errorf("Archive Date %v, want %v", d, archived)
			}
			if got := locateByName(t, f, v, 0, "archiveKey"); len(got) != 0 {
				t.Errorf("default Locate found the archived key: %v", got)
			}
			if got := locateByName(t, f, v, both, "archiveKey"); !slices.Equal(got, []string{id}) {
				t.Errorf("Locate in archival storage found %v", got)
			}
			for _, op := range []kmip.OperationPayload{
				archive(id),
				rekey(id, nil),
				&payloads.ObtainLeaseRequestPayload{UniqueIdentifier: id},
				&payloads.GetUsageAllocationRequestPayload{UniqueIdentifier: id, UsageLimitsCount: 1},
			} {
				fails(t, do(t, f, v, op), kmip.ResultReasonObjectArchived)
			}

			f.Clock.Advance(time.Minute)
			ok[*payloads.RecoverResponsePayload](t, do(t, f, v, recoverReq(id)))
			attrs := getAttrs(t, f, v, id)
			if _, found := value(attrs, kmip.AttributeNameArchiveDate); found {
				t.Error("Archive Date kept after Recover")
			}
			if d, _ := value(attrs, kmip.AttributeNameLastChangeDate); !isTime(d, f.Clock.Now()) {
				t.Errorf("Last Change Date %v, want the recovery", d)
			}
			if got := locateByName(t, f, v, 0, "archiveKey"); !slices.Equal(got, []string{id}) {
				t.Errorf("Locate after Recover found %v", got)
			}
			applied := f.Replicator.Applied()
			ok[*payloads.RecoverResponsePayload](t, do(t, f, v, recoverReq(id)))
			if f.Replicator.Applied() != applied {
				t.Error("recovering an on-line object wrote to the log")
			}
		})
	}
}

func TestArchiveRejects(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4)
	for _, op := range []kmip.OperationPayload{archive(id), recoverReq(id)} {
		fails(t, exec(t, f, bob, kmip.V1_4, op)[0], kmip.ResultReasonItemNotFound)
	}
	for _, op := range []kmip.OperationPayload{archive(""), recoverReq("")} {
		fails(t, do(t, f, kmip.V1_4, op), kmip.ResultReasonItemNotFound)
	}
	// Batched after Create, the ID Placeholder names the new object.
	items := exec(t, f, alice, kmip.V1_4,
		&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(128)},
		archive(""), recoverReq(""))
	created := ok[*payloads.CreateResponsePayload](t, items[0]).UniqueIdentifier
	if got := ok[*payloads.RecoverResponsePayload](t, items[2]).UniqueIdentifier; got != created {
		t.Errorf("Recover answered %q, want the placeholder %q", got, created)
	}
}

func TestLocateRejectsBadMasks(t *testing.T) {
	f := kmiptest.New(t)
	for _, req := range []*payloads.LocateRequestPayload{
		{StorageStatusMask: 4},
		{StorageStatusMask: -1},
		{ObjectGroupMember: 3},
	} {
		resp, _ := f.ExecuteDirect(t, alice, ptrTo(kmip.NewRequestMessage(kmip.V1_4, req)))
		fails(t, resp.BatchItem[0], kmip.ResultReasonInvalidField)
	}
}
