#!/usr/bin/env bash
# gen-pki.sh: the three CAs and the certificates a kmsd cluster needs, made
# with openssl. Good for a lab or the docker compose example; for production,
# have your own CAs sign certificates with the same fields (see
# deploy/README.md).
#
#   deploy/gen-pki.sh OUT NODE=ADDR[,ADDR...] ...
#
#   deploy/gen-pki.sh deploy/compose node-1=172.28.0.11 node-2=172.28.0.12 node-3=172.28.0.13
#
# NODE is the node id (1 to 64 of A-Z a-z 0-9 . _ -). Each ADDR is an IP
# address or a DNS name the node is reached at; the node's name, localhost,
# 127.0.0.1 and ::1 are always added. Set EXTRA_SANS to names every KMIP
# server certificate must also carry, such as a load balancer's:
#
#   EXTRA_SANS=kms.example.com,10.0.0.10 deploy/gen-pki.sh ...
#
# kmsd keeps three trust domains apart, each with a CA of its own: KMIP
# clients, operators (the admin API) and nodes (Raft, gossip joins, the
# node-to-node service). It writes (keys 0600, certificates 0644):
#
#   OUT/ca/                     the CAs; keep the .key files offline
#       ca.pem, ca.key            KMIP CA: signs KMIP server and client certificates
#       admin-ca.pem, .key        admin CA: signs operators' certificates
#       node-ca.pem, .key         node CA: signs node certificates
#       gossip.key                32 random bytes shared by every node
#   OUT/NODE/pki/               one folder per node, to mount on /pki:
#       ca.pem                    the KMIP CA (verifies KMIP clients)
#       admin-ca.pem              the admin CA (verifies operators)
#       node-ca.pem               the node CA (verifies peers)
#       server.pem, server.key    KMIP server certificate: CN=NODE, serverAuth,
#                                 SANs as above plus EXTRA_SANS
#       node.pem, node.key        node certificate: CN=NODE, O=kmsd-nodes,
#                                 URI SAN urn:kmsd:node:NODE, serverAuth and
#                                 clientAuth, SANs as above
#       gossip.key                copy of OUT/ca/gossip.key
#   OUT/pki/                    the operator's bundle, a kmsctl --dev-dir layout
#                               (kmsctl --dev-dir OUT):
#       ca.pem                    the KMIP CA (verifies the KMIP servers)
#       client.pem, client.key    KMIP client, CN=demo-client (the CN is the
#                                 tenant that owns the objects it creates)
#       node-ca.pem               the node CA (verifies the admin port, which
#                                 presents the node certificate)
#       admin.pem, admin.key      admin API, O=kmsd-admins, from the admin CA
#
# Files that exist are kept if their CA still verifies them (a certificate
# that it does not, such as an admin.pem that an earlier single-CA version
# of this script signed, is issued again for its existing key): run it again
# with another NODE=... to add a node. The container image runs as uid
# 65532, so before mounting OUT/NODE/pki into a container:
#   sudo chown -R 65532:65532 OUT/*/pki
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

# newca NAME CN: the CA OUT/ca/NAME.pem and its key, unless they exist.
newca() {
	newkey "$out/ca/$1.key"
	if [ ! -e "$out/ca/$1.pem" ]; then
		openssl req -x509 -new -key "$out/ca/$1.key" -subj "/CN=$2" -days "$days_ca" -sha256 \
			-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
			-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
			-out "$out/ca/$1.pem"
		chmod 644 "$out/ca/$1.pem"
	fi
}

# sign CA KEY CERT SUBJECT EXTENSIONS: a leaf certificate signed by
# OUT/ca/CA.pem, unless CERT exists and that CA verifies it.
sign() {
	local ca=$1 key=$2 cert=$3 subj=$4 ext=$5 csr ext_file msg
	if [ -e "$cert" ]; then
		if openssl verify -CAfile "$out/ca/$ca.pem" "$cert" >/dev/null 2>&1; then
			return 0
		fi
		echo "gen-pki.sh: $cert is not signed by $out/ca/$ca.pem; issuing it again" >&2
	fi
	csr=$(mktemp)
	ext_file=$(mktemp)
	printf '%s\n' "$ext" >"$ext_file"
	openssl req -new -key "$key" -subj "$subj" -out "$csr"
	if ! msg=$(openssl x509 -req -in "$csr" -CA "$out/ca/$ca.pem" -CAkey "$out/ca/$ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days "$days_leaf" -sha256 \
		-extfile "$ext_file" -out "$cert.tmp" 2>&1); then
		echo "$msg" >&2
		rm -f "$csr" "$ext_file" "$cert.tmp"
		return 1
	fi
	rm -f "$csr" "$ext_file"
	chmod 644 "$cert.tmp"
	mv "$cert.tmp" "$cert"
}

# copy FROM TO MODE
copy() {
	cp "$1" "$2"
	chmod "$3" "$2"
}

newca ca "kmsd KMIP CA"
newca admin-ca "kmsd admin CA"
newca node-ca "kmsd node CA"
if [ ! -e "$out/ca/gossip.key" ]; then
	openssl rand -out "$out/ca/gossip.key" 32
fi
chmod 600 "$out/ca/gossip.key"

# san NAME ADDRS EXTRA: a subjectAltName value.
san() {
	local list="DNS:$1,DNS:localhost,IP:127.0.0.1,IP:::1" a
	local IFS=,
	for a in $2 $3; do
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
	if ! [[ $name =~ ^[A-Za-z0-9._-]{1,64}$ ]]; then
		echo "gen-pki.sh: node id $name: use 1 to 64 of A-Z a-z 0-9 . _ -" >&2
		exit 2
	fi
	dir="$out/$name/pki"
	mkdir -p "$dir"
	newkey "$dir/server.key"
	sign ca "$dir/server.key" "$dir/server.pem" "/CN=$name" \
		"$leaf_ext
extendedKeyUsage=serverAuth
subjectAltName=$(san "$name" "$addrs" "${EXTRA_SANS:-}")"
	newkey "$dir/node.key"
	sign node-ca "$dir/node.key" "$dir/node.pem" "/O=kmsd-nodes/CN=$name" \
		"$leaf_ext
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=URI:urn:kmsd:node:$name,$(san "$name" "$addrs" "")"
	for f in ca admin-ca node-ca; do
		copy "$out/ca/$f.pem" "$dir/$f.pem" 644
	done
	copy "$out/ca/gossip.key" "$dir/gossip.key" 600
	echo "gen-pki.sh: $dir"
done

# The operator's bundle.
copy "$out/ca/ca.pem" "$out/pki/ca.pem" 644
copy "$out/ca/node-ca.pem" "$out/pki/node-ca.pem" 644
newkey "$out/pki/client.key"
sign ca "$out/pki/client.key" "$out/pki/client.pem" "/O=kmsd-clients/CN=demo-client" \
	"$leaf_ext
extendedKeyUsage=clientAuth"
newkey "$out/pki/admin.key"
sign admin-ca "$out/pki/admin.key" "$out/pki/admin.pem" "/O=kmsd-admins/CN=admin" \
	"$leaf_ext
extendedKeyUsage=clientAuth"
echo "gen-pki.sh: $out/pki (kmsctl --dev-dir $out)"
