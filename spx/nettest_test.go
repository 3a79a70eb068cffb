package spx

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// TestNetConn runs the standard net.Conn conformance suite over an
// in-memory LAN, with SPX II and with plain SPX.
func TestNetConn(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"SPX2", Config{}},
		{"PlainSPX", Config{PlainSPX: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				n := newTestNet(t, memlan.Config{Seed: 7})
				ln, err := ListenConfig(n.b, 0x5000, tt.cfg)
				if err != nil {
					return nil, nil, nil, err
				}
				ch := make(chan net.Conn, 1)
				go func() {
					c, err := ln.Accept()
					if err != nil {
						t.Error(err)
					}
					ch <- c
				}()
				d, err := DialConfig(context.Background(), n.a, ipx.Addr{Net: 1, Node: n.nodeB, Socket: 0x5000}, tt.cfg)
				if err != nil {
					return nil, nil, nil, err
				}
				a := <-ch
				stop = func() {
					// Close waits for the data written to be acknowledged:
					// both at once, so that neither waits for the other to
					// read.
					done := make(chan struct{})
					go func() { d.Close(); close(done) }()
					a.Close()
					<-done
					// A test's own Close may still wait for its last
					// acknowledgement: closing the Stacks under it would
					// make it report the data undelivered.
					waitDone(d, 5*time.Second)
					waitDone(a.(*Conn), 5*time.Second)
					ln.Close()
					n.a.Close()
					n.b.Close()
				}
				return d, a, stop, nil
			})
		})
	}
}

// waitDone waits until c's connection is over, at most d.
func waitDone(c *Conn, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	c.mu.Lock()
	for c.ep.state != stDone {
		w := c.progressWait()
		c.unlock()
		select {
		case <-w:
		case <-t.C:
			return
		}
		c.mu.Lock()
	}
	c.unlock()
}
