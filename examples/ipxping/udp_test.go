package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/echo"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// TestRunUDP pings, through a tunnel server on loopback, a responder
// registered with the same server.
func TestRunUDP(t *testing.T) {
	srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := udp.Dial(ctx, srv.Addr().String(), udp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	startResponder(t, l, l.Network())

	target := ipx.Addr{Net: l.Network(), Node: l.Node(), Socket: echo.Socket}
	var out, errb bytes.Buffer
	args := []string{"-udp-server", srv.Addr().String(), "-c", "3", "-i", "10ms", target.String()}
	if got := run(ctx, args, &out, &errb); got != 0 {
		t.Fatalf("status %d; stderr %s; stdout %s", got, errb.String(), out.String())
	}
	want := fmt.Sprintf("56 bytes from %v: id=2", target)
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "3 received") {
		t.Errorf("output lacks %q and 3 received:\n%s", want, out.String())
	}
}

func TestRunUDPNoServer(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the registration timeout")
	}
	// A bound UDP port that never answers.
	srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	if got := run(ctx, []string{"-udp-server", addr, "-c", "1", "00000000:7f0000010001"}, &out, &errb); got != 1 {
		t.Errorf("status %d, want 1", got)
	}
	if !strings.Contains(errb.String(), "udp") {
		t.Errorf("stderr %q does not name the failing link", errb.String())
	}
}

// startResponder puts a Stack on l, numbered network, and answers pings
// on it until the test ends.
func startResponder(t *testing.T, l ipx.Link, network ipx.Network) {
	t.Helper()
	s, err := linkflag.NewStack(l, network, ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := s.Listen(echo.Socket)
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		echo.NewResponder(rc).Serve()
	}()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
}
