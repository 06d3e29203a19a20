#!/bin/sh
# Makes a throwaway CA and a server certificate it signs, for the STARTTLS/TLS delivery tests.
# rustls refuses a self-signed certificate used directly as the server's (CaUsedAsEndEntity),
# so the leaf is a separate CA:FALSE certificate with SANs for localhost and 127.0.0.1.
# Usage: certs.sh DIR  ->  DIR/ca.pem DIR/ca.key DIR/server.pem DIR/server.key
set -eu
dir=${1:?usage: certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -sha256 \
    -subj "/CN=vanban test CA" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -sha256 \
    -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
cat > server.ext <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
EXT
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -sha256 \
    -extfile server.ext -out server.pem 2>/dev/null
rm -f server.csr server.ext ca.srl
