/** The help text of `tlskit connect`: what it does, every option, exit codes and examples. */
export const CONNECT_HELP = `Usage: tlskit connect HOST:PORT (--ca FILE | --system-ca) [options]

Connects with a tlskit client, says whether the server is trusted and why not, and shows what
it presents: protocol, cipher, key-exchange group, ALPN, OCSP staple, session resumption, and the
certificate chain as sent. HOST:PORT is host:port, 1.2.3.4:port or [::1]:port.

Trust (one is required; there is no silent default):
  --ca FILE             PEM file of the CA certificate(s) to trust
  --system-ca           Trust the system's CA store (Mozilla's list, plus NODE_EXTRA_CA_CERTS)
  --crl FILE            Check revocation against these CRLs (PEM; one for every CA in the chain)

Options:
  --servername NAME     The name the certificate must carry, sent as SNI (default: HOST)
  --cert FILE --key FILE
                        Our client certificate chain and key, for servers that ask (mutual TLS)
  --alpn LIST           ALPN protocols to offer, most preferred first: h2,http/1.1
  --tls1.2 | --tls1.3   Speak only this version (default: 1.2 or 1.3)
  --starttls PROTOCOL   Speak PROTOCOL's STARTTLS dialogue first: smtp, imap, pop3, ftp, xmpp,
                        postgres
  --versions            Also scan which of TLS 1.0 to 1.3, and which cipher suites, the server
                        accepts (observation handshakes, like sslscan)
  --json                Print the report as one JSON object on stdout, nothing else
  --interactive         After the report, carry bytes between the terminal and the server
  --timeout SECONDS     Deadline for each connection and handshake (default 10)
  -h, --help            Show this help

When standard input is a pipe or a file, its bytes are sent to a trusted server after the report
and the server's bytes are written to stdout (the report then goes to stderr), until either side
ends; --interactive does the same from a terminal. An untrusted server is sent nothing.

Exit status: 0 trusted, 1 not trusted (a certificate or TLS verdict), 2 could not connect or
wrong usage.

Examples:
  tlskit connect example.com:443 --system-ca
  tlskit connect localhost:8443 --ca certs/dev-ca.pem --alpn h2,http/1.1
  tlskit connect mail.example.com:25 --system-ca --starttls smtp
  tlskit connect 10.0.0.5:443 --ca ca.pem --servername api.internal --json | jq .verdict
  tlskit connect localhost:8443 --ca ca.pem --versions
  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | tlskit connect example.com:443 --system-ca
`;
