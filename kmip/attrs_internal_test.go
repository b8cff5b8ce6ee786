package kmip

import (
	"slices"
	"testing"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/fsm"
)

// TestAttrTable walks the attribute rules as the front end applies them:
// every fsm rule has its versions here, and Add, Modify and Delete
// Attribute are refused exactly as the rule says, in every version that
// defines the attribute and in none that does not.
func TestAttrTable(t *testing.T) {
	rules := fsm.AttrRules()
	if len(attrTable) != len(rules) || len(attrVersions) != len(rules) {
		t.Fatalf("%d rules, %d specs, %d version rows", len(rules), len(attrTable), len(attrVersions))
	}
	for i, r := range rules {
		s := attrTable[i]
		t.Run(string(r.Name), func(t *testing.T) {
			if s.Name != r.Name || s.Multi != r.Multi || !slices.Equal(s.States, r.States) {
				t.Fatalf("spec %+v does not carry rule %+v", s, r)
			}
			if !slices.Contains(supportedVersions, s.since) {
				t.Errorf("defined since %v, not a supported version", s.since)
			}
			if s.deprecated != (kmip.ProtocolVersion{}) && !before(s.since, s.deprecated) {
				t.Errorf("deprecated in %v, not after %v", s.deprecated, s.since)
			}
			for _, v := range supportedVersions {
				defined := !before(v, s.since)
				if definedIn(r.Name, v) != defined {
					t.Errorf("definedIn(%v) = %v", v, !defined)
				}
				for e, allowed := range map[edit]bool{editAdd: r.Add, editModify: r.Modify, editDelete: r.Delete} {
					err := checkEditable(r.Name, v, e)
					if ok := err == nil; ok != (allowed && defined) {
						t.Errorf("KMIP %v: %s: %v, want allowed=%v", v, e, err, allowed && defined)
					}
				}
			}
		})
	}
}
