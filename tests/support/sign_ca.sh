#!/bin/sh
# Makes the signing tests' CA with openssl: root, intermediate, a person's RSA-2048 certificate, an
# organisation's ECDSA P-256 certificate, one that expires the day after it is made (the test signs
# at an injected time a week later), one without a signing key usage, and a time-stamping
# authority for `openssl ts -reply`. Each signing certificate also comes as a PKCS#12 file.
# Usage: sign_ca.sh DIR PASSWORD
set -eu
dir=${1:?usage: sign_ca.sh DIR PASSWORD}
pass=${2:?usage: sign_ca.sh DIR PASSWORD}
mkdir -p "$dir"
cd "$dir"
cat > ca.ext <<'EXT'
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
EXT
cat > signing.ext <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
cat > nosign.ext <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyEncipherment
EXT
cat > tsa.ext <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 -utf8 \
    -subj "/C=VN/O=vanban test/CN=vanban Test Root CA" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout root.key -out root.pem 2>/dev/null
issue() { # name subject keyspec ext days issuer
    if [ "$3" = ec ]; then
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
    else
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" 2>/dev/null
    fi
    openssl req -new -key "$1.key" -utf8 -subj "$2" -out "$1.csr" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA "$6.pem" -CAkey "$6.key" -CAcreateserial -days "$5" -sha256 \
        -extfile "$4" -out "$1.pem" 2>/dev/null
}
issue intermediate "/C=VN/O=vanban test/CN=vanban Test Intermediate CA" rsa ca.ext 3000 root
issue person "/C=VN/O=UBND huyện Đầm Hà/CN=Hoàng Vĩnh Khuyến" rsa signing.ext 365 intermediate
issue organisation "/C=VN/CN=Ủy ban nhân dân huyện Đầm Hà" ec signing.ext 365 intermediate
issue expired "/C=VN/CN=Tô Xuân Lợi" rsa signing.ext 1 intermediate
issue nosign "/C=VN/CN=Trần Anh Cường" rsa nosign.ext 365 intermediate
issue organisation-rsa "/C=VN/CN=Ủy ban nhân dân huyện Đầm Hà (RSA)" rsa signing.ext 365 intermediate
issue tsa "/C=VN/O=vanban test/CN=vanban Test TSA" rsa tsa.ext 365 intermediate
cat intermediate.pem root.pem > chain.pem
openssl x509 -in root.pem -outform DER -out root.der
openssl x509 -in intermediate.pem -outform DER -out intermediate.der
for n in person organisation expired nosign organisation-rsa; do
    openssl pkcs12 -export -inkey "$n.key" -in "$n.pem" -certfile chain.pem -passout "pass:$pass" -out "$n.p12"
    openssl pkcs8 -topk8 -nocrypt -in "$n.key" -out "$n.pk8.pem"
    openssl pkcs8 -topk8 -nocrypt -in "$n.key" -outform DER -out "$n.pk8.der"
    openssl x509 -in "$n.pem" -outform DER -out "$n.der"
done
cat > tsa.cnf <<'CNF'
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = ./tsa.serial
crypto_device = builtin
signer_cert = ./tsa.pem
certs = ./chain.pem
signer_key = ./tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
CNF
echo 01 > tsa.serial
rm -f ./*.csr ./*.srl
