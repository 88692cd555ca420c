#!/usr/bin/env bash
# make_test_pki.sh DIR: a throwaway PKI for the Consul-over-TLS tests (TEST
# EQUIPMENT). Writes into DIR, which must exist:
#   ca.pem ca.key              the test CA
#   server.pem server.key      signed by it, for 127.0.0.1 and localhost
#   client.pem client.key      signed by it, for TLS client authentication
#   other-ca.pem other-ca.key  an unrelated CA (a CA that does not match)
#   wrong-host.pem .key        signed by the test CA for consul.invalid only
#                              (a certificate for another host name)
#   capath/                    ca.pem as CONSUL_CAPATH wants it (openssl rehash)
#   other-capath/              the same for other-ca.pem
# Keys are P-256, certificates valid for one day. Needs Debian's openssl CLI.
set -euo pipefail
dir=${1:?usage: make_test_pki.sh DIR}
cd "$dir"
umask 077

ca() {  # ca NAME CN
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.pem" -days 1 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

leaf() {  # leaf NAME CN SERIAL EXTENSIONS
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf '%s\n' "$4" 'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid' \
    'basicConstraints=critical,CA:FALSE' >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -set_serial "$3" \
    -days 1 -out "$1.pem" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "shoveling test CA"
ca other-ca "unrelated test CA"
leaf server 127.0.0.1 2 $'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'
leaf client "shoveling test client" 3 'extendedKeyUsage=clientAuth'
leaf wrong-host consul.invalid 4 $'subjectAltName=DNS:consul.invalid\nextendedKeyUsage=serverAuth'
mkdir capath other-capath
cp ca.pem capath/ && openssl rehash capath
cp other-ca.pem other-capath/ && openssl rehash other-capath
chmod 0644 ./*.pem capath/* other-capath/*
chmod 0755 capath other-capath
