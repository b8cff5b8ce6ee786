package objkind_test

import (
	"slices"
	"testing"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/objkind"
)

func validate(kmip.Object, []kmip.Attribute) error { return nil }

func TestRegistry(t *testing.T) {
	objkind.Register(kmip.ObjectTypeSymmetricKey, objkind.Kind{Since: kmip.V1_0, Validate: validate})
	objkind.Register(kmip.ObjectTypePGPKey, objkind.Kind{Since: kmip.V1_2, Validate: validate})

	if k, ok := objkind.Lookup(kmip.ObjectTypePGPKey); !ok || k.Since != kmip.V1_2 {
		t.Fatalf("Lookup(PGP Key) = %+v, %v", k, ok)
	}
	if _, ok := objkind.Lookup(kmip.ObjectTypeCertificate); ok {
		t.Fatal("Lookup found a type nobody registered")
	}
	if got := objkind.Types(kmip.V1_1); !slices.Equal(got, []kmip.ObjectType{kmip.ObjectTypeSymmetricKey}) {
		t.Errorf("Types(1.1) = %v", got)
	}
	if got := objkind.Types(kmip.V1_4); !slices.Equal(got, []kmip.ObjectType{kmip.ObjectTypeSymmetricKey, kmip.ObjectTypePGPKey}) {
		t.Errorf("Types(1.4) = %v", got)
	}

	for name, k := range map[string]struct {
		t    kmip.ObjectType
		kind objkind.Kind
	}{
		"twice":       {kmip.ObjectTypeSymmetricKey, objkind.Kind{Validate: validate}},
		"no Validate": {kmip.ObjectTypeSecretData, objkind.Kind{}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Register did not panic")
				}
			}()
			objkind.Register(k.t, k.kind)
		})
	}
}
