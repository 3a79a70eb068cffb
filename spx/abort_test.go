package spx

import (
	"context"
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/internal/ipxtest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// abortPair connects a dialer on node 1 to a listener on node 2 of one
// memlan segment and returns both ends and the listener's link, which a
// test crashes to silence the peer. Call it inside a synctest bubble.
func abortPair(t *testing.T, cfg Config) (c, peer *Conn, peerLink *memlan.Link) {
	t.Helper()
	seg := memlan.NewSegment(memlan.Config{})
	a, _ := ipxtest.Stack(t, ipx.StackConfig{}, ipxtest.Node(1), ipxtest.On{Seg: seg, Net: 1})
	b, bl := ipxtest.Stack(t, ipx.StackConfig{}, ipxtest.Node(2), ipxtest.On{Seg: seg, Net: 1})
	ln, err := Listen(b, 0x5000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan *Conn, 1)
	go func() {
		c, _ := ln.AcceptSPX()
		accepted <- c
	}()
	c, err = DialConfig(context.Background(), a, ipx.Addr{Net: 1, Node: ipxtest.Node(2), Socket: 0x5000}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	peer = <-accepted
	if peer == nil {
		t.Fatal("no connection accepted")
	}
	t.Cleanup(func() { peer.Abort() })
	return c, peer, bl[0]
}

// Abort returns at once even when the peer is gone with data
// outstanding, where Close would wait out its linger.
func TestAbortDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, pl := abortPair(t, Config{})
		pl.Crash()
		if _, err := c.Write(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := c.Abort(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("Abort took %v", d)
		}
		if _, err := c.Read(make([]byte, 10)); err == nil {
			t.Fatal("read after Abort succeeded")
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Close after Abort: %v, want net.ErrClosed", err)
		}
		pl.Restore()
	})
}

// TryWrite takes a write whole when the send buffer has room, and
// nothing at all when it has not, without waiting.
func TestTryWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, bc, pl := abortPair(t, Config{Linger: -1})
		defer c.Abort()
		if ok, err := c.TryWrite([]byte("hello")); !ok || err != nil {
			t.Fatalf("TryWrite on an open window: %v %v", ok, err)
		}
		buf := make([]byte, 16)
		if n, err := bc.Read(buf); err != nil || string(buf[:n]) != "hello" {
			t.Fatalf("read %q %v", buf[:n], err)
		}
		// The peer falls silent: the send buffer fills and TryWrite
		// refuses, writing nothing, at once.
		pl.Crash()
		chunk := make([]byte, 200)
		wrote := 0
		for {
			ok, err := c.TryWrite(chunk)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			wrote += len(chunk)
			if wrote > 10<<20 {
				t.Fatal("TryWrite never refused")
			}
		}
		c.mu.Lock()
		room := c.ep.room()
		c.unlock()
		if room >= len(chunk) {
			t.Fatalf("refused with room %d for %d", room, len(chunk))
		}
		pl.Restore()
	})
}
