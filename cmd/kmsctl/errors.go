package main

import (
	"fmt"
	"strings"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// kmipError is a failed batch item: the server understood the request and
// refused it.
type kmipError struct {
	Op      kmip.Operation
	Status  kmip.ResultStatus
	Reason  kmip.ResultReason
	Message string
}

func (e *kmipError) Error() string {
	var text string
	switch e.Status {
	case kmip.ResultStatusOperationPending:
		text = "operation pending (asynchronous operations are not supported by kmsctl)"
	case kmip.ResultStatusOperationUndone:
		text = "operation undone"
	default:
		text = reasonText(e.Reason)
	}
	msg := strings.TrimSpace(e.Message)
	if msg != "" && !strings.EqualFold(msg, text) && !strings.EqualFold(msg, ttlv.EnumStr(e.Reason)) {
		text += " (" + msg + ")"
	}
	return text
}

// itemErr returns nil for a successful item and a *kmipError otherwise.
func itemErr(bi *kmip.ResponseBatchItem) error {
	if bi.ResultStatus == kmip.ResultStatusSuccess {
		return nil
	}
	return &kmipError{Op: bi.Operation, Status: bi.ResultStatus, Reason: bi.ResultReason, Message: bi.ResultMessage}
}

var reasonTexts = map[kmip.ResultReason]string{
	kmip.ResultReasonItemNotFound:                     "item not found",
	kmip.ResultReasonResponseTooLarge:                 "response too large",
	kmip.ResultReasonAuthenticationNotSuccessful:      "authentication failed",
	kmip.ResultReasonInvalidMessage:                   "invalid message",
	kmip.ResultReasonOperationNotSupported:            "operation not supported by the server",
	kmip.ResultReasonMissingData:                      "missing data",
	kmip.ResultReasonInvalidField:                     "invalid field",
	kmip.ResultReasonFeatureNotSupported:              "feature not supported by the server",
	kmip.ResultReasonOperationCanceledByRequester:     "operation canceled",
	kmip.ResultReasonCryptographicFailure:             "cryptographic failure",
	kmip.ResultReasonIllegalOperation:                 "wrong key lifecycle state or illegal operation",
	kmip.ResultReasonPermissionDenied:                 "permission denied",
	kmip.ResultReasonObjectArchived:                   "object is archived",
	kmip.ResultReasonIndexOutofBounds:                 "attribute index out of bounds",
	kmip.ResultReasonApplicationNamespaceNotSupported: "application namespace not supported",
	kmip.ResultReasonKeyFormatTypeNotSupported:        "key format type not supported",
	kmip.ResultReasonKeyCompressionTypeNotSupported:   "key compression type not supported",
	kmip.ResultReasonEncodingOptionError:              "encoding option error",
	kmip.ResultReasonKeyValueNotPresent:               "key value not present",
	kmip.ResultReasonAttestationRequired:              "attestation required",
	kmip.ResultReasonAttestationFailed:                "attestation failed",
	kmip.ResultReasonSensitive:                        "object is sensitive",
	kmip.ResultReasonNotExtractable:                   "object is not extractable",
	kmip.ResultReasonObjectAlreadyExists:              "object already exists",
	kmip.ResultReasonGeneralFailure:                   "server error",
}

func reasonText(r kmip.ResultReason) string {
	if t, ok := reasonTexts[r]; ok {
		return t
	}
	if r == 0 {
		return "operation failed"
	}
	return "operation failed: " + enumText(r)
}

// enumText is ttlv.EnumStr with a hex fallback for values the registry
// does not name.
func enumText[T ~uint32](v T) string {
	if s := ttlv.EnumStr(v); s != "" {
		return s
	}
	return fmt.Sprintf("0x%08X", uint32(v))
}

// opName is the lower-case operation name used in error messages.
func opName(op kmip.Operation) string {
	return strings.ToLower(enumText(op))
}
