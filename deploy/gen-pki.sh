#!/usr/bin/env bash
# gen-pki.sh: a small CA and the certificates a kmsd cluster needs, made with
# openssl. Good for a lab or the docker compose example; for production, have
# your own CA sign certificates with the same fields (see deploy/README.md).
#
#   deploy/gen-pki.sh OUT NODE=ADDR[,ADDR...] ...
#
#   deploy/gen-pki.sh deploy/compose node-1=172.28.0.11 node-2=172.28.0.12 node-3=172.28.0.13
#
# Each ADDR is an IP address or a DNS name the node is reached at; the node's
# name, localhost, 127.0.0.1 and ::1 are always added. Set EXTRA_SANS to names
# every node certificate must also carry, such as a load balancer's:
#
#   EXTRA_SANS=kms.example.com,10.0.0.10 deploy/gen-pki.sh ...
#
# It writes (keys 0600, certificates 0644):
#
#   OUT/ca/ca.pem, ca.key       the CA; keep ca.key offline
#   OUT/ca/gossip.key           32 random bytes shared by every node
#   OUT/NODE/pki/               one folder per node, to mount on /pki:
#       ca.pem                    the CA (verifies clients, admins and peers)
#       server.pem, server.key    the node certificate: O=kmsd-nodes,
#                                 serverAuth+clientAuth, SANs as above
#       gossip.key                copy of OUT/ca/gossip.key
#   OUT/pki/                    the operator's bundle, a kmsctl --dev-dir layout
#                               (kmsctl --dev-dir OUT):
#       ca.pem
#       client.pem, client.key    KMIP client, CN=demo-client (the CN is the
#                                 tenant that owns the objects it creates)
#       admin.pem, admin.key      admin API, O=kmsd-admins
#
# Files that exist are kept: run it again with another NODE=... to add a node
# signed by the same CA. The container image runs as uid 65532, so before
# mounting OUT/NODE/pki into a container:  sudo chown -R 65532:65532 OUT/*/pki
set -euo pipefail

days_ca=3650
days_leaf=825

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

[ $# -ge 2 ] || usage
out=$1
shift
command -v openssl >/dev/null || { echo "gen-pki.sh: openssl is required" >&2; exit 1; }

umask 077
mkdir -p "$out/ca" "$out/pki"

# newkey FILE: an ECDSA P-256 key in PKCS#8 PEM, unless FILE exists.
newkey() {
	[ -e "$1" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
	chmod 600 "$1"
}

# sign KEY CERT SUBJECT EXTENSIONS: a leaf certificate signed by the CA,
# unless CERT exists.
sign() {
	local key=$1 cert=$2 subj=$3 ext=$4 csr ext_file msg
	[ -e "$cert" ] && return 0
	csr=$(mktemp)
	ext_file=$(mktemp)
	printf '%s\n' "$ext" >"$ext_file"
	openssl req -new -key "$key" -subj "$subj" -out "$csr"
	if ! msg=$(openssl x509 -req -in "$csr" -CA "$out/ca/ca.pem" -CAkey "$out/ca/ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days "$days_leaf" -sha256 \
		-extfile "$ext_file" -out "$cert" 2>&1); then
		echo "$msg" >&2
		rm -f "$csr" "$ext_file" "$cert"
		return 1
	fi
	rm -f "$csr" "$ext_file"
	chmod 644 "$cert"
}

# The CA.
newkey "$out/ca/ca.key"
if [ ! -e "$out/ca/ca.pem" ]; then
	openssl req -x509 -new -key "$out/ca/ca.key" -subj "/CN=kmsd CA" -days "$days_ca" -sha256 \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
		-out "$out/ca/ca.pem"
	chmod 644 "$out/ca/ca.pem"
fi
if [ ! -e "$out/ca/gossip.key" ]; then
	openssl rand -out "$out/ca/gossip.key" 32
fi
chmod 600 "$out/ca/gossip.key"

# san NAME ADDRS: a subjectAltName value.
san() {
	local list="DNS:$1,DNS:localhost,IP:127.0.0.1,IP:::1" a
	local IFS=,
	for a in $2 ${EXTRA_SANS:-}; do
		[ -n "$a" ] || continue
		if [[ $a =~ ^[0-9.]+$ || $a == *:* ]]; then
			list+=",IP:$a"
		else
			list+=",DNS:$a"
		fi
	done
	printf '%s' "$list"
}

leaf_ext='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature'

for spec in "$@"; do
	name=${spec%%=*}
	addrs=${spec#*=}
	if [ -z "$name" ] || [ "$name" = "$spec" ]; then
		echo "gen-pki.sh: want NODE=ADDR[,ADDR...], got $spec" >&2
		exit 2
	fi
	dir="$out/$name/pki"
	mkdir -p "$dir"
	newkey "$dir/server.key"
	sign "$dir/server.key" "$dir/server.pem" "/O=kmsd-nodes/CN=$name" \
		"$leaf_ext
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$(san "$name" "$addrs")"
	cp "$out/ca/ca.pem" "$dir/ca.pem"
	cp "$out/ca/gossip.key" "$dir/gossip.key"
	chmod 644 "$dir/ca.pem"
	chmod 600 "$dir/gossip.key"
	echo "gen-pki.sh: $dir"
done

# The operator's bundle.
cp "$out/ca/ca.pem" "$out/pki/ca.pem"
chmod 644 "$out/pki/ca.pem"
newkey "$out/pki/client.key"
sign "$out/pki/client.key" "$out/pki/client.pem" "/O=kmsd-clients/CN=demo-client" \
	"$leaf_ext
extendedKeyUsage=clientAuth"
newkey "$out/pki/admin.key"
sign "$out/pki/admin.key" "$out/pki/admin.pem" "/O=kmsd-admins/CN=admin" \
	"$leaf_ext
extendedKeyUsage=clientAuth"
echo "gen-pki.sh: $out/pki (kmsctl --dev-dir $out)"
