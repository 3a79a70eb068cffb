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

// Abort returns at once even when the peer is gone with data
// outstanding, where Close would wait out its linger.
func TestAbortDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		a, _ := ipxtest.Stack(t, ipx.StackConfig{}, ipxtest.Node(1), ipxtest.On{Seg: seg, Net: 1})
		b, bl := ipxtest.Stack(t, ipx.StackConfig{}, ipxtest.Node(2), ipxtest.On{Seg: seg, Net: 1})
		ln, err := Listen(b, 0x5000)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan *Conn, 1)
		go func() {
			c, _ := ln.AcceptSPX()
			accepted <- c
		}()
		c, err := Dial(context.Background(), a, ipx.Addr{Net: 1, Node: ipxtest.Node(2), Socket: 0x5000})
		if err != nil {
			t.Fatal(err)
		}
		bl[0].Crash()
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
		bl[0].Restore()
		if bc := <-accepted; bc != nil {
			bc.Abort()
		}
	})
}
