package kmip_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/cluster"
	kmsdkmip "github.com/kmsd/kmsd/kmip"
	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func TestBatchIDPlaceholder(t *testing.T) {
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			f := kmiptest.New(t)
			items := exec(t, f, alice, v,
				&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(256)},
				&payloads.ActivateRequestPayload{},
				&payloads.GetRequestPayload{},
			)
			id := ok[*payloads.CreateResponsePayload](t, items[0]).UniqueIdentifier
			if got := ok[*payloads.ActivateResponsePayload](t, items[1]).UniqueIdentifier; got != id {
				t.Errorf("Activate acted on %q, want %q", got, id)
			}
			if got := ok[*payloads.GetResponsePayload](t, items[2]).UniqueIdentifier; got != id {
				t.Errorf("Get returned %q, want %q", got, id)
			}
			for i, bi := range items {
				if string(bi.UniqueBatchItemID) != string([]byte{0, 0, 0, 0, 0, 0, 0, byte(i)}) {
					t.Errorf("item %d echoes batch item id % x", i, bi.UniqueBatchItemID)
				}
			}
			if s := state(t, f, v, id); s != kmip.StateActive {
				t.Errorf("state %v", s)
			}
		})
	}
}

func TestBatchErrorContinuation(t *testing.T) {
	tests := []struct {
		name   string
		option kmip.BatchErrorContinuationOption
		want   []kmip.ResultReason // 0 means success
	}{
		{"default stops", 0, []kmip.ResultReason{0, kmip.ResultReasonItemNotFound, kmip.ResultReasonOperationCanceledByRequester, kmip.ResultReasonOperationCanceledByRequester}},
		{"stop", kmip.BatchErrorContinuationOptionStop, []kmip.ResultReason{0, kmip.ResultReasonItemNotFound, kmip.ResultReasonOperationCanceledByRequester, kmip.ResultReasonOperationCanceledByRequester}},
		{"continue", kmip.BatchErrorContinuationOptionContinue, []kmip.ResultReason{0, kmip.ResultReasonItemNotFound, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			id := create(t, f, kmip.V1_2)
			req := kmip.NewRequestMessage(kmip.V1_2,
				&payloads.GetAttributesRequestPayload{UniqueIdentifier: id},
				&payloads.ActivateRequestPayload{UniqueIdentifier: "missing"},
				&payloads.ActivateRequestPayload{UniqueIdentifier: id},
				&payloads.QueryRequestPayload{},
			)
			req.Header.BatchErrorContinuationOption = tt.option
			resp, _ := f.Execute(t, alice, req)
			for i, want := range tt.want {
				bi := resp.BatchItem[i]
				if want == 0 {
					if bi.ResultStatus != kmip.ResultStatusSuccess {
						t.Errorf("item %d: %v", i, bi.Err())
					}
					continue
				}
				if bi.ResultStatus != kmip.ResultStatusOperationFailed || bi.ResultReason != want {
					t.Errorf("item %d: %s %s, want failure %s", i, ttlv.EnumStr(bi.ResultStatus), ttlv.EnumStr(bi.ResultReason), ttlv.EnumStr(want))
				}
				if bi.Operation != req.BatchItem[i].Operation {
					t.Errorf("item %d answers operation %v", i, bi.Operation)
				}
			}
			wantState := kmip.StatePreActive
			if tt.option == kmip.BatchErrorContinuationOptionContinue {
				wantState = kmip.StateActive
			}
			if s := state(t, f, kmip.V1_2, id); s != wantState {
				t.Errorf("state %v, want %v", s, wantState)
			}
		})
	}
}

// TestBatchFailureClearsPlaceholder: after a failed item, an item that
// relies on the ID Placeholder must not act on an earlier object, whatever
// made the item fail.
func TestBatchFailureClearsPlaceholder(t *testing.T) {
	critical := kmip.RequestBatchItem{
		Operation:        kmip.OperationGet,
		RequestPayload:   &payloads.GetRequestPayload{},
		MessageExtension: &kmip.MessageExtension{VendorIdentification: "acme", CriticalityIndicator: true, VendorExtension: ttlv.Struct{}},
	}
	for _, tt := range []struct {
		name    string
		failing kmip.RequestBatchItem
	}{
		{"handler error", kmip.RequestBatchItem{Operation: kmip.OperationGet, RequestPayload: &payloads.GetRequestPayload{UniqueIdentifier: "missing"}}},
		{"unsupported operation", kmip.RequestBatchItem{Operation: kmip.OperationNotify, RequestPayload: kmip.NewUnknownPayload(kmip.OperationNotify)}},
		{"critical extension", critical},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			req := kmip.NewRequestMessage(kmip.V1_4,
				&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(256)},
				&payloads.GetRequestPayload{},
				&payloads.ActivateRequestPayload{},
			)
			req.BatchItem[1] = tt.failing
			req.Header.BatchErrorContinuationOption = kmip.BatchErrorContinuationOptionContinue
			resp, _ := f.Execute(t, alice, req)
			id := ok[*payloads.CreateResponsePayload](t, resp.BatchItem[0]).UniqueIdentifier
			if resp.BatchItem[1].ResultStatus == kmip.ResultStatusSuccess {
				t.Fatal("the failing item succeeded")
			}
			fails(t, resp.BatchItem[2], kmip.ResultReasonMissingData, kmip.ResultReasonItemNotFound, kmip.ResultReasonInvalidField)
			if s := state(t, f, kmip.V1_4, id); s != kmip.StatePreActive {
				t.Errorf("state %v: the placeholder survived a failed item", s)
			}
		})
	}
}

func TestMessageErrors(t *testing.T) {
	query := &payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionOperations, kmip.QueryFunctionObjects}}
	tests := []struct {
		name   string
		modify func(*kmip.RequestMessage)
		want   kmip.ResultReason
	}{
		{"batch count too high", func(m *kmip.RequestMessage) { m.Header.BatchCount = 2 }, kmip.ResultReasonInvalidMessage},
		{"batch count zero", func(m *kmip.RequestMessage) { m.Header.BatchCount = 0 }, kmip.ResultReasonInvalidMessage},
		{"no batch items", func(m *kmip.RequestMessage) { m.BatchItem = nil; m.Header.BatchCount = 0 }, kmip.ResultReasonInvalidMessage},
		{"response too large", func(m *kmip.RequestMessage) { m.Header.MaximumResponseSize = 250 }, kmip.ResultReasonResponseTooLarge},
		{"critical extension", func(m *kmip.RequestMessage) {
			m.BatchItem[0].MessageExtension = &kmip.MessageExtension{VendorIdentification: "acme", CriticalityIndicator: true, VendorExtension: ttlv.Struct{}}
		}, kmip.ResultReasonFeatureNotSupported},
		{"unimplemented operation", func(m *kmip.RequestMessage) {
			// Notify goes from server to client: a server never serves it.
			m.BatchItem[0] = kmip.RequestBatchItem{Operation: kmip.OperationNotify, RequestPayload: kmip.NewUnknownPayload(kmip.OperationNotify)}
		}, kmip.ResultReasonOperationNotSupported},
		{"unknown operation", func(m *kmip.RequestMessage) {
			m.BatchItem[0] = kmip.RequestBatchItem{Operation: 0x7777, RequestPayload: kmip.NewUnknownPayload(0x7777)}
		}, kmip.ResultReasonOperationNotSupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			req := kmip.NewRequestMessage(kmip.V1_3, query)
			tt.modify(&req)
			resp, b := f.Execute(t, alice, req)
			if resp.Header.ProtocolVersion != kmip.V1_3 {
				t.Errorf("answered in %s", resp.Header.ProtocolVersion)
			}
			if len(resp.BatchItem) != 1 {
				t.Fatalf("%d batch items", len(resp.BatchItem))
			}
			fails(t, resp.BatchItem[0], tt.want)
			if max := req.Header.MaximumResponseSize; max > 0 && len(b) > int(max) {
				t.Errorf("Response Too Large answer is %d bytes, above the %d the client allows", len(b), max)
			}
		})
	}
}

func TestNonCriticalExtensionIgnored(t *testing.T) {
	f := kmiptest.New(t)
	req := kmip.NewRequestMessage(kmip.V1_1, &payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionObjects}})
	req.BatchItem[0].MessageExtension = &kmip.MessageExtension{VendorIdentification: "acme", VendorExtension: ttlv.Struct{}}
	resp, _ := f.Execute(t, alice, req)
	ok[*payloads.QueryResponsePayload](t, resp.BatchItem[0])
}

func TestMaximumResponseSizeLargeEnough(t *testing.T) {
	f := kmiptest.New(t)
	req := kmip.NewRequestMessage(kmip.V1_3, &payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionOperations}})
	req.Header.MaximumResponseSize = 4096
	resp, _ := f.Execute(t, alice, req)
	ok[*payloads.QueryResponsePayload](t, resp.BatchItem[0])
}

func TestResponseVersion(t *testing.T) {
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			f := kmiptest.New(t)
			req := kmip.NewRequestMessage(v, &payloads.QueryRequestPayload{})
			req.Header.ClientCorrelationValue = "corr-1"
			resp, _ := f.Execute(t, alice, req)
			if resp.Header.ProtocolVersion != v {
				t.Errorf("answered in %s", resp.Header.ProtocolVersion)
			}
			if !resp.Header.TimeStamp.Equal(kmiptest.Epoch) {
				t.Errorf("Time Stamp %v, want the service clock %v", resp.Header.TimeStamp, kmiptest.Epoch)
			}
			// 1.4: the server sends its own Server Correlation Value and
			// does not echo the client's.
			if resp.Header.ClientCorrelationValue != "" {
				t.Errorf("Client Correlation Value %q echoed", resp.Header.ClientCorrelationValue)
			}
			if got := resp.Header.ServerCorrelationValue != ""; got != (v == kmip.V1_4) {
				t.Errorf("Server Correlation Value %q in %s", resp.Header.ServerCorrelationValue, v)
			}
			// A client that sends none gets none: PyKMIP 0.10 cannot parse a
			// 1.4 header with one.
			plain, _ := f.Execute(t, alice, kmip.NewRequestMessage(v, &payloads.QueryRequestPayload{}))
			if plain.Header.ServerCorrelationValue != "" {
				t.Errorf("Server Correlation Value sent to a client without one")
			}
		})
	}
	for _, v := range []kmip.ProtocolVersion{kmip.V2_0, {ProtocolVersionMajor: 1, ProtocolVersionMinor: 9}, {ProtocolVersionMajor: 0, ProtocolVersionMinor: 9}} {
		t.Run("unsupported "+vname(v), func(t *testing.T) {
			f := kmiptest.New(t)
			resp, _ := f.Execute(t, alice, kmip.NewRequestMessage(v, &payloads.QueryRequestPayload{}))
			if len(resp.BatchItem) != 1 {
				t.Fatalf("%d batch items", len(resp.BatchItem))
			}
			fails(t, resp.BatchItem[0], kmip.ResultReasonInvalidMessage, kmip.ResultReasonOperationNotSupported)
			if !isServed(resp.Header.ProtocolVersion) {
				t.Errorf("answered in %s, which the server does not speak", resp.Header.ProtocolVersion)
			}
		})
	}
}

func isServed(v kmip.ProtocolVersion) bool {
	for _, s := range allVersions {
		if s == v {
			return true
		}
	}
	return false
}

// TestReplicatorErrorsStayInternal: a cluster failure becomes a generic
// answer; its text is logged, not sent.
func TestReplicatorErrorsStayInternal(t *testing.T) {
	for _, err := range []error{cluster.ErrNotLeader, cluster.ErrTimeout, errors.New("raft: disk on fire"), context.DeadlineExceeded} {
		t.Run(err.Error(), func(t *testing.T) {
			f := kmiptest.New(t)
			f.Replicator.Err = err
			bi := do(t, f, kmip.V1_4, &payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(128)})
			fails(t, bi, kmip.ResultReasonGeneralFailure)
			if bi.ResultMessage == err.Error() || len(bi.ResultMessage) > 0 && containsFold(bi.ResultMessage, err.Error()) {
				t.Errorf("result message %q quotes the internal error", bi.ResultMessage)
			}
		})
	}
}

// TestMessageErrorTimeStamp: message-level errors are stamped with the
// service clock (Config.Now) like every other response.
func TestMessageErrorTimeStamp(t *testing.T) {
	f := kmiptest.New(t)
	req := kmip.NewRequestMessage(kmip.V1_2, &payloads.QueryRequestPayload{})
	req.Header.BatchCount = 3
	resp, _ := f.Execute(t, alice, req)
	fails(t, resp.BatchItem[0], kmip.ResultReasonInvalidMessage)
	if !resp.Header.TimeStamp.Equal(kmiptest.Epoch) {
		t.Errorf("Time Stamp %v, want the service clock %v", resp.Header.TimeStamp, kmiptest.Epoch)
	}
}

func TestRequestLimits(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4)
	t.Run("too many batch items", func(t *testing.T) {
		pls := make([]kmip.OperationPayload, kmsdkmip.MaxBatchItems+1)
		for i := range pls {
			pls[i] = &payloads.QueryRequestPayload{}
		}
		resp, _ := f.Execute(t, alice, kmip.NewRequestMessage(kmip.V1_4, pls...))
		if len(resp.BatchItem) != 1 {
			t.Fatalf("%d batch items answered", len(resp.BatchItem))
		}
		fails(t, resp.BatchItem[0], kmip.ResultReasonInvalidMessage)
	})
	t.Run("too many attribute names", func(t *testing.T) {
		many := make([]kmip.AttributeName, kmsdkmip.MaxAttributeNames+1)
		for i := range many {
			many[i] = kmip.AttributeNameState
		}
		fails(t, do(t, f, kmip.V1_4, &payloads.GetAttributesRequestPayload{UniqueIdentifier: id, AttributeName: many}), kmip.ResultReasonInvalidField)
	})
	t.Run("too many locate filters", func(t *testing.T) {
		many := make([]kmip.Attribute, kmsdkmip.MaxLocateFilters+1)
		for i := range many {
			many[i] = attr(kmip.AttributeNameObjectGroup, "g")
		}
		fails(t, do(t, f, kmip.V1_4, &payloads.LocateRequestPayload{Attribute: many}), kmip.ResultReasonInvalidField)
	})
}
