package ipx_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// blockConn is an ether.PacketConn whose reads block until Close.
type blockConn struct {
	once   sync.Once
	closed chan struct{}
}

func (c *blockConn) ReadFrom([]byte) (int, net.Addr, error) {
	<-c.closed
	return 0, nil, net.ErrClosed
}
func (c *blockConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }
func (c *blockConn) SetReadDeadline(time.Time) error           { return nil }
func (c *blockConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// The Close rule (doc.go): the first Close succeeds, every later one
// returns a *net.OpError wrapping net.ErrClosed.
func TestSecondClose(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) interface{ Close() error }
	}{
		{"Stack", func(t *testing.T) interface{ Close() error } {
			s, err := ipx.NewStack(ipx.StackConfig{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"Conn", func(t *testing.T) interface{ Close() error } {
			s := host(t, memlan.NewSegment(memlan.Config{}), node(1), 1, ipx.StackConfig{})
			return listen(t, s, 0)
		}},
		{"ListenFunc Conn", func(t *testing.T) interface{ Close() error } {
			s := host(t, memlan.NewSegment(memlan.Config{}), node(1), 1, ipx.StackConfig{})
			c, err := s.ListenFunc(0, func([]byte, *ipx.RecvInfo) {})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
		{"InternalLink", func(t *testing.T) interface{ Close() error } {
			return ipx.NewInternalLink(node(1))
		}},
		{"memlan.Link", func(t *testing.T) interface{ Close() error } {
			l, err := memlan.NewSegment(memlan.Config{}).Attach(node(1))
			if err != nil {
				t.Fatal(err)
			}
			return l
		}},
		{"udp.Link", func(t *testing.T) interface{ Close() error } {
			srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve() }()
			t.Cleanup(func() { srv.Close(); <-served })
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			l, err := udp.Dial(ctx, srv.Addr().String(), udp.Config{})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}},
		{"ether.Link", func(t *testing.T) interface{ Close() error } {
			l, err := ether.New(&blockConn{closed: make(chan struct{})}, node(1), ether.Config{})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.open(t)
			if err := c.Close(); err != nil {
				t.Fatalf("first Close: %v", err)
			}
			for range 2 {
				err := c.Close()
				var oe *net.OpError
				if !errors.As(err, &oe) || oe.Op != "close" || !errors.Is(err, net.ErrClosed) {
					t.Fatalf("second Close: %#v (%v), want a close *net.OpError wrapping net.ErrClosed", err, err)
				}
			}
		})
	}
}

// A Conn closed by its Stack's Close, then by its owner, follows the rule
// too; and links the Stack owns are closed once, whoever else closed them.
func TestCloseAfterStackClose(t *testing.T) {
	seg := memlan.NewSegment(memlan.Config{})
	s, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := seg.Attach(node(1))
	s.AddLink(l, 1)
	in := ipx.NewInternalLink(node(1))
	s.AddLink(in, 2)
	c := listen(t, s, 0)
	l.Close() // its owner closes a link under the Stack: not a Stack.Close error
	if err := s.Close(); err != nil {
		t.Fatalf("Stack.Close: %v", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Conn.Close after Stack.Close: %v", err)
	}
	if err := in.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("InternalLink.Close after Stack.Close: %v", err)
	}
}
