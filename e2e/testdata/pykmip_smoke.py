# PyKMIP interoperability smoke test: run by e2e/pykmip_test.go against a real kmsd.
# Usage: pykmip_smoke.py HOST PORT CA CERT KEY VERSION; prints one JSON object.
import json, sys
from kmip.pie.client import ProxyKmipClient
from kmip.pie import objects
from kmip.core import enums

host, port, ca, cert, key, version = sys.argv[1:7]
versions = {"1.0": enums.KMIPVersion.KMIP_1_0, "1.1": enums.KMIPVersion.KMIP_1_1, "1.2": enums.KMIPVersion.KMIP_1_2,
            "1.3": enums.KMIPVersion.KMIP_1_3, "1.4": enums.KMIPVersion.KMIP_1_4}
out = {}
with ProxyKmipClient(hostname=host, port=int(port), cert=cert, key=key, ca=ca,
                     config_file="/dev/null", kmip_version=versions[version]) as c:
    uid = c.create(enums.CryptographicAlgorithm.AES, 256, name="pykmip-demo",
                   cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT])
    out["created"] = uid
    c.activate(uid)
    key_obj = c.get(uid)
    out["key_len"] = len(key_obj.value)
    out["state"] = str(c.get_attributes(uid, ["State"])[1][0].attribute_value.value)
    out["located"] = c.locate(attributes=[c.attribute_factory.create_attribute(enums.AttributeType.NAME, "pykmip-demo")])
    sec = objects.SecretData(b"\x01" * 32, enums.SecretDataType.PASSWORD)
    sid = c.register(sec)
    out["secret_roundtrip"] = c.get(sid).value == b"\x01" * 32
    c.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid)
    c.destroy(uid)
    c.destroy(sid)
    out["destroyed"] = True
print(json.dumps(out))
