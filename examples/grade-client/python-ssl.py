"""A trytls-style stub for python's ssl module, for `tlskit badtls check`.

    tlskit badtls check -- python3 examples/grade-client/python-ssl.py {host} {addr} {port} {ca} {crl} {cert} {key}

It verifies as an application should: create_default_context with the lab's CA bundle, CRLs for
the whole chain, and the client certificate offered. Exit status 0 means the handshake (and the
certificate checks in it) succeeded; the error goes to stderr otherwise.
"""
import socket
import ssl
import sys

host, addr, port, ca, crl, cert, key = sys.argv[1:8]
context = ssl.create_default_context(cafile=ca)
context.load_verify_locations(cafile=crl)
context.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN
context.load_cert_chain(cert, key)
with socket.create_connection((addr, int(port)), timeout=5) as raw:
    with context.wrap_socket(raw, server_hostname=host):
        pass
