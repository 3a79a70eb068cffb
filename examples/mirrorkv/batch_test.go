package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// TestClientBatch sends requests on stdin to a primary running alone,
// which replies at once, and checks a reply line for each, an error line
// for a malformed one, and exit status 1 for it.
func TestClientBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server")
	}
	relay := testRelay(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srvOut := new(syncBuffer)
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"-udp-server", relay.Addr(), "-role", "primary", "-peer", "1:020000000002",
			"-key", testKey}, strings.NewReader(""), srvOut, io.Discard)
	}()
	waitOutput(t, srvOut, "mirrorkv: serving")

	in := "put a 1\n\nget a\nget b\ncas a \"\" 2\ncas a 1 2\nget a\ndel a\nput \"\" empty\nget \"\"\n"
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"client", "-udp-server", relay.Addr(), "-timeout", "10s", "-batch"},
		strings.NewReader(in), &stdout, &stderr)
	want := "OK\n1\nnot found\nmismatch: 1\nOK\n2\nerror: request \"del\": want put, get or cas\nOK\nempty\n"
	if code != 1 || stdout.String() != want {
		t.Errorf("batch = %d, stdout:\n%s\nwant 1, stdout:\n%s\nstderr:\n%s", code, &stdout, want, &stderr)
	}
	if !strings.Contains(stderr.String(), "some requests failed") {
		t.Errorf("stderr lacks the failure: %s", &stderr)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("server = %d", code)
	}
}

// TestClientBatchUsage checks that -batch takes no request arguments.
func TestClientBatchUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"client", "-udp-server", "127.0.0.1:9", "-batch", "get", "k"}
	if code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "-batch reads requests from stdin") {
		t.Errorf("run(%q) = %d, stderr:\n%s", args, code, &stderr)
	}
}
