package mirror

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// TestHandshake varies the acceptor's identity and the dialer's key;
// this varies the other end's: a dialer with another internal network,
// node, socket or engine version, and an acceptor with another key. Each
// mismatch is refused with the matching error on both sides, whichever
// end holds the odd value.
func TestHandshakeRefusedEitherSide(t *testing.T) {
	otherKey := []byte("another key, quite different....")
	with := func(f func(*hello)) hello {
		h := testHello(RoleSecondary)
		f(&h)
		return h
	}
	tests := []struct {
		name       string
		dkey, akey []byte
		dialer     hello
		want       error
	}{
		{"acceptor's key", testKey, otherKey, testHello(RoleSecondary), ErrAuth},
		{"dialer's network", testKey, testKey, with(func(h *hello) { h.Network = 0xBAD }), ErrRefused},
		{"dialer's node", testKey, testKey, with(func(h *hello) { h.Node = ipx.Node{0, 0, 0, 0, 0, 2} }), ErrRefused},
		{"dialer's socket", testKey, testKey, with(func(h *hello) { h.Socket = 0x4A01 }), ErrRefused},
		{"dialer's engine", testKey, testKey, with(func(h *hello) { h.Engine = "kv2" }), ErrRefused},
		{"dialer's engine empty", testKey, testKey, with(func(h *hello) { h.Engine = "" }), ErrRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, derr, aerr := runHandshake(t, tt.dkey, tt.akey, tt.dialer, testHello(RolePrimary))
			if !errors.Is(derr, tt.want) || !errors.Is(aerr, tt.want) {
				t.Fatalf("dialer: %v; acceptor: %v; want both %v", derr, aerr, tt.want)
			}
		})
	}
}

// A dialer whose peer welcomes it in another protocol version refuses it
// (TestHandshakeOtherVersion is the acceptor's side).
func TestHandshakeOtherVersionWelcome(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	errc := make(chan error, 1)
	go func() {
		_, _, err := handshake(c1, testKey, true, testHello(RoleSecondary), time.Second, func(*hello) error { return nil })
		c1.Close()
		errc <- err
	}()
	fc := newFrameConn(c2, testKey)
	if typ, _, err := fc.read(); err != nil || typ != msgHello {
		t.Fatalf("read hello: %v %v", typ, err)
	}
	h := testHello(RolePrimary)
	b := []byte{0, 0, 0, 0, 2, byte(msgWelcome), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b = h.appendBinary(b)
	fc.wmac.Write(b[4:])
	b = fc.wmac.Sum(b)
	b[0], b[1], b[2], b[3] = 0, 0, byte((len(b)-4)>>8), byte(len(b)-4)
	go func() { c2.Write(b); io.Copy(io.Discard, c2) }()
	if err := <-errc; !errors.Is(err, ErrRefused) {
		t.Fatalf("dialer: %v, want ErrRefused", err)
	}
}
