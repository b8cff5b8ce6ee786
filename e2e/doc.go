// Package e2e holds the tests that run real kmsd processes (see e2e/harness):
// clusters, faults, real clients and the OASIS KMIP conformance vectors
// (conformance_test.go, library in e2e/conformance). README.md describes
// the tests, the nemesis suite and its long runs.
//
// The vectors that must keep passing are listed in
// testdata/conformance_pass.txt. Run them with
//
//	go test ./e2e -run TestConformance
//	go test ./e2e -run TestConformance -conformance-run 'v1.0/TC_3' -conformance-verbose
//	go test ./e2e -run TestConformance -update-conformance   # rewrite the list
package e2e
