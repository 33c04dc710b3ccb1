// A Go crypto/tls server for bench/peers.mjs, standard library only. It mirrors the tlskit and
// raw node:tls servers of bench/throughput.mjs and bench/handshake.mjs, so the same Node client
// drives all of them:
//
//	go-tls throughput <cert.pem> <key.pem> <bytes>       counts bytes, prints the rate once all arrived
//	go-tls handshake <cert.pem> <key.pem> <TLSv1.3|TLSv1.2>  greets with one byte, closes with close_notify
//
// Protocol with the parent, one JSON object a line: it prints {"port":N} once listening; in
// throughput mode {"mbps":X,"bytes":N} when the last byte arrived; in handshake mode it answers
// each "count" line on stdin with {"connections":N}. The parent reads this process's CPU time
// from /proc, so the program measures nothing but the rate.
package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

func emit(value map[string]any) {
	line, _ := json.Marshal(value)
	fmt.Println(string(line))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go-tls: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	if len(os.Args) != 5 {
		fail("usage: go-tls <throughput|handshake> <cert.pem> <key.pem> <bytes|TLSv1.3|TLSv1.2>")
	}
	mode, certFile, keyFile, arg := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		fail("loading %s and %s: %v", certFile, keyFile, err)
	}
	config := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	listener, err := tls.Listen("tcp", "127.0.0.1:0", config)
	if err != nil {
		fail("listening on 127.0.0.1: %v", err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	switch mode {
	case "throughput":
		total, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || total <= 0 {
			fail("bytes must be a positive integer, got %q", arg)
		}
		emit(map[string]any{"port": port})
		throughput(listener, total)
	case "handshake":
		switch arg {
		case "TLSv1.3":
			config.MaxVersion = tls.VersionTLS13
		case "TLSv1.2":
			config.MaxVersion = tls.VersionTLS12
		default:
			fail("version must be TLSv1.3 or TLSv1.2, got %q", arg)
		}
		emit(map[string]any{"port": port})
		handshakes(listener)
	default:
		fail("mode must be throughput or handshake, got %q", mode)
	}
}

// throughput reads one connection until total bytes arrived, timing from the first byte to the
// last as bench/throughput.mjs does.
func throughput(listener net.Listener, total int64) {
	conn, err := listener.Accept()
	if err != nil {
		fail("accept: %v", err)
	}
	buffer := make([]byte, 256*1024)
	var received int64
	var start time.Time
	for received < total {
		n, err := conn.Read(buffer)
		if n > 0 && received == 0 {
			start = time.Now()
		}
		received += int64(n)
		if err != nil {
			fail("read after %d of %d bytes: %v", received, total, err)
		}
	}
	seconds := time.Since(start).Seconds()
	emit(map[string]any{"mbps": float64(total) / seconds / 1e6, "bytes": received})
	// Stay up until the parent stops us, as the Node workers do.
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// handshakes accepts until stopped. Each connection gets one byte, then close_notify and a TCP
// half-close; the server waits for the client's close_notify before closing, like the raw
// node:tls server's end() (a full close before it would answer the client's alert with a reset).
func handshakes(listener net.Listener) {
	var connections atomic.Int64
	go func() {
		lines := bufio.NewScanner(os.Stdin)
		for lines.Scan() {
			if lines.Text() == "count" {
				emit(map[string]any{"connections": connections.Load()})
			}
		}
		os.Exit(0)
	}()
	for {
		conn, err := listener.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		go func(conn *tls.Conn) {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			if err := conn.Handshake(); err != nil {
				return
			}
			connections.Add(1)
			if _, err := conn.Write([]byte("x")); err != nil {
				return
			}
			if err := conn.CloseWrite(); err != nil {
				return
			}
			if tcp, ok := conn.NetConn().(*net.TCPConn); ok {
				_ = tcp.CloseWrite()
			}
			_, _ = io.Copy(io.Discard, conn)
		}(conn.(*tls.Conn))
	}
}
