package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
	"github.com/ipxkit/ipxkit/spx"
)

func TestDemoEcho(t *testing.T) {
	for _, args := range [][]string{
		{"-memlan-demo"},
		{"-memlan-demo", "-plain"},
		{"-memlan-demo", "-loss", "0.2"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			in := strings.Repeat("the quick brown fox\n", 2000)
			var out, errOut bytes.Buffer
			stdin := io.Reader(strings.NewReader(in))
			if args[len(args)-1] == "-plain" {
				// Plain SPX has no half-close: the echo ends only when
				// we do, so stop once the whole echo has arrived.
				stdin = &holdOpen{r: strings.NewReader(in)}
			}
			full := func() {}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done := make(chan int)
			if _, ok := stdin.(*holdOpen); ok {
				full = cancel
			}
			w := &watchWriter{w: &out, want: len(in), full: full}
			go func() { done <- run(ctx, args, stdin, w, &errOut) }()
			code := <-done
			if out.String() != in {
				t.Fatalf("echo differs: got %d bytes, want %d; stderr %s", out.Len(), len(in), errOut.String())
			}
			if args[len(args)-1] != "-plain" && code != 0 {
				t.Fatalf("exit %d, stderr %s", code, errOut.String())
			}
		})
	}
}

// holdOpen is a reader that blocks after its data, like a terminal.
type holdOpen struct{ r io.Reader }

func (h *holdOpen) Read(b []byte) (int, error) {
	n, err := h.r.Read(b)
	if err == io.EOF {
		select {} // never returns; the test ends the run through ctx
	}
	return n, err
}

// watchWriter calls full once want bytes are written.
type watchWriter struct {
	w    io.Writer
	n    int
	want int
	full func()
}

func (w *watchWriter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	w.n += n
	if w.n >= w.want {
		w.full()
	}
	return n, err
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "usage: spxcat"},
		{[]string{}, 2, "choose one link"},
		{[]string{"-memlan-demo", "-udp-server", "x"}, 2, "choose one link"},
		{[]string{"-udp-server", "127.0.0.1:1"}, 2, "no address"},
		{[]string{"-memlan-demo", "-l", "00000001:020000000002:5000"}, 2, "-l takes no address"},
		{[]string{"-memlan-demo", "nonsense"}, 2, `address "nonsense": not an IPX address: want network:node:socket`},
		{[]string{"-memlan-demo", "-p", "10000", "-l"}, 2, "-p 10000: a socket is 1 to ffff"},
		{[]string{"-memlan-demo", "-timeout", "0"}, 2, "-timeout 0s: must be positive"},
		{[]string{"-memlan-demo", "-loss", "1"}, 2, "-loss 1: want 0 <= loss < 1"},
		{[]string{"-udp-server", "x", "-loss", "0.5", "1:020000000001:5000"}, 2, "-memlan-demo only"},
		{[]string{"-memlan-demo", "-frame", "802.2"}, 2, "not defined: -frame"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tt.args, strings.NewReader(""), &out, &errOut)
		if code != tt.code || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tt.args, code, errOut.String(), tt.code, tt.want)
		}
	}
}

// TestOverUDPTunnel runs a listening spxcat and a dialling one through a
// DOSBox-style tunnel server on loopback.
func TestOverUDPTunnel(t *testing.T) {
	srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()
	server := srv.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	pr, pw := io.Pipe()
	var lout bytes.Buffer
	ldone := make(chan int)
	go func() {
		ldone <- run(ctx, []string{"-udp-server", server, "-l", "-p", "5000"}, strings.NewReader("reply\n"), &lout, pw)
		pw.Close()
	}()
	// The listener prints its address, which the tunnel server chose.
	sc := bufio.NewScanner(pr)
	var addr string
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "spxcat: listening on "); ok {
			addr = a
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if addr == "" {
		t.Fatal("listener printed no address")
	}
	var dout, derr bytes.Buffer
	if code := run(ctx, []string{"-udp-server", server, addr}, strings.NewReader("request\n"), &dout, &derr); code != 0 {
		t.Fatalf("dialler exit %d: %s", code, derr.String())
	}
	if code := <-ldone; code != 0 {
		t.Fatalf("listener exit %d", code)
	}
	if lout.String() != "request\n" || dout.String() != "reply\n" {
		t.Errorf("listener got %q, dialler got %q", lout.String(), dout.String())
	}
}

// TestNotDeliveredExitsNonZero: a peer that ends the connection while our
// data is still on its way makes spxcat exit 1, saying so.
func TestNotDeliveredExitsNonZero(t *testing.T) {
	srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	link, err := udp.Dial(ctx, srv.Addr().String(), udp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	stack, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	if _, err := stack.AddLink(link, 0); err != nil {
		t.Fatal(err)
	}
	ln, err := spx.Listen(stack, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.AcceptSPX()
		if err != nil {
			return
		}
		// Take a little, then hang up on the rest.
		io.ReadFull(c, make([]byte, 64<<10))
		c.Close()
	}()
	var out, errOut bytes.Buffer
	in := bytes.NewReader(make([]byte, 8<<20))
	code := run(ctx, []string{"-udp-server", srv.Addr().String(), ln.Addr().String()}, in, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "not delivered") {
		t.Errorf("exit %d, stderr %q; want 1 and a report of undelivered data", code, errOut.String())
	}
}
