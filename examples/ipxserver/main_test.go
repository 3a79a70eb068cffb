package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/internal/syncbuf"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// TestRelay starts the server on a loopback port and relays a packet
// between two links.
func TestRelay(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var logs syncbuf.Buffer
	addrc := make(chan net.Addr, 1)
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, []string{"-addr", "127.0.0.1:0"}, &logs, func(a net.Addr) { addrc <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case code := <-exit:
		t.Fatalf("exited with %d:\n%s", code, logs.String())
	}

	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	a, err := udp.Dial(dctx, addr.String(), udp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := udp.Dial(dctx, addr.String(), udp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	p := ipx.Packet{
		Header: ipx.Header{
			Checksum: ipx.ChecksumNone,
			Dst:      ipx.Addr{Node: b.Node(), Socket: 0x4000},
			Src:      ipx.Addr{Node: a.Node(), Socket: 0x4000},
		},
		Payload: []byte("through ipxserver"),
	}
	wire, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WritePacket(wire, b.Node()); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, udp.MTU)
		n, _, err := b.ReadPacket(buf)
		if err == nil {
			got <- buf[:n]
		}
	}()
	select {
	case g := <-got:
		if !bytes.Equal(g, wire) {
			t.Fatalf("received % x, want % x", g, wire)
		}
	case <-dctx.Done():
		t.Fatal("packet not relayed")
	}

	cancel()
	if code := <-exit; code != 0 {
		t.Fatalf("exit %d:\n%s", code, logs.String())
	}
	out := logs.String()
	for _, want := range []string{"client registered", a.Node().String(), b.Node().String(), "unicasts=1"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"-h"}, 0, "ipxnet connect"},
		{"bad flag", []string{"-nope"}, 2, "ipxserver: flag provided but not defined: -nope\nRun 'ipxserver -h' for usage.\n"},
		{"extra argument", []string{"x"}, 2, "unexpected arguments"},
		{"bad address", []string{"-addr", "no-such-host.invalid:1"}, 1, "ipxserver:"},
		{"negative clients", []string{"-addr", "127.0.0.1:0", "-max-clients", "-1"}, 2, "-max-clients -1: must be positive"},
		{"no clients", []string{"-addr", "127.0.0.1:0", "-max-clients", "0"}, 2, "-max-clients 0: must be positive"},
		{"no clients per host", []string{"-addr", "127.0.0.1:0", "-max-per-host", "0"}, 2, "-max-per-host 0: must be positive"},
		{"zero timeout", []string{"-addr", "127.0.0.1:0", "-timeout", "0"}, 2, "-timeout 0s: must be positive"},
		{"negative misses", []string{"-addr", "127.0.0.1:0", "-keepalive-misses", "-1"}, 2, "-keepalive-misses -1: must not be negative"},
		{"bad service", []string{"-addr", "127.0.0.1:0", "-sap", "4:FS1:zz"}, 2, `socket "zz"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out syncbuf.Buffer
			if code := run(t.Context(), tt.args, &out, nil); code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out.String())
			}
		})
	}
}

// TestLogsRefusalsAndDrops: without -v, a registration refused for
// -max-per-host and a malformed datagram are logged.
func TestLogsRefusalsAndDrops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var logs syncbuf.Buffer
	addrc := make(chan net.Addr, 1)
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"-addr", "127.0.0.1:0", "-max-per-host", "1"}, &logs, func(a net.Addr) { addrc <- a })
	}()
	var srv *net.UDPAddr
	select {
	case a := <-addrc:
		srv = a.(*net.UDPAddr)
	case code := <-exit:
		t.Fatalf("exited with %d:\n%s", code, logs.String())
	}
	// A bare registration, as DOSBox sends it.
	reg := make([]byte, ipx.HeaderLen)
	reg[0], reg[1], reg[3], reg[17], reg[29] = 0xff, 0xff, ipx.HeaderLen, 2, 2
	send := func(from string, b []byte) *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(from)})
		if err != nil {
			t.Skipf("no loopback address %s: %v", from, err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.WriteToUDP(b, srv); err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := send("127.0.0.1", reg)
	first.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	if _, _, err := first.ReadFromUDP(buf); err != nil {
		t.Fatalf("first registration: %v", err)
	}
	send("127.0.0.1", reg)               // refused: one per host
	send("127.0.0.1", []byte("garbage")) // malformed
	// A reply to another host's registration shows the server has read
	// the datagrams before it (one socket's queue is in order).
	other := send("127.0.0.2", reg)
	other.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := other.ReadFromUDP(buf); err != nil {
		t.Fatalf("registration from 127.0.0.2: %v", err)
	}
	cancel()
	if code := <-exit; code != 0 {
		t.Fatalf("exit %d:\n%s", code, logs.String())
	}
	out := logs.String()
	for _, want := range []string{"too many from host", "malformed datagram", "refused=1", "dropped=1"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
