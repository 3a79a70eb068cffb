// Package routedtunnel is an IPX-over-UDP relay for the examples that run
// a mirrored pair on a tunnel (mirrordemo, mirrorkv): a udp.Server that
// relays as DOSBox's own server does and also routes packets for the
// pair's internal network by RIP (udp.ServerConfig.Route).
package routedtunnel

import (
	"context"
	"sync/atomic"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
	"github.com/ipxkit/ipxkit/rip"
)

// Tunnel is an IPX-over-UDP relay that relays as DOSBox's own server
// does, by destination node, and routes a packet for a node it does not
// know by its destination network, to the next hop RIP names; it relays
// a client's packets whatever their source node.
//
// Both are what a mirrored pair on a tunnel needs. Its requests go to the
// pair's internal network and node, which is no tunnel client's: the
// tunnel must route them, and to whichever server advertises the best
// route now, or a takeover changes nothing. Its replies come from that
// internal address, which a plain udp.Server drops as spoofed
// (ServerStats.DropSpoofed), since it is not the sender's tunnel node.
type Tunnel struct {
	srv  *udp.Server
	done chan struct{} // closed when Serve returns

	// The relay's own station on the tunnel, whose listen-only RIP
	// router learns the routes.
	stack  *ipx.Stack
	router atomic.Pointer[rip.Router]
}

// Listen starts a relay on UDP address addr ("host:port"); its own
// station, which learns the routes, is on network lanNet.
func Listen(addr string, lanNet ipx.Network) (*Tunnel, error) {
	t := &Tunnel{done: make(chan struct{})}
	srv, err := udp.ListenServer(addr, udp.ServerConfig{Route: t.nextHop})
	if err != nil {
		return nil, err
	}
	t.srv = srv
	go func() {
		defer close(t.done)
		srv.Serve()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), linkflag.RegisterTimeout)
	defer cancel()
	l, err := udp.Dial(ctx, t.Addr(), udp.Config{})
	if err != nil {
		t.Close()
		return nil, err
	}
	if t.stack, err = ipx.NewStack(ipx.StackConfig{}); err != nil {
		l.Close()
		t.Close()
		return nil, err
	}
	if _, err := t.stack.AddLink(l, lanNet); err != nil {
		l.Close()
		t.Close()
		return nil, err
	}
	r, err := rip.NewRouter(t.stack, rip.Config{ListenOnly: true})
	if err != nil {
		t.Close()
		return nil, err
	}
	t.router.Store(r)
	return t, nil
}

// nextHop returns the node of the client that routes to network n; the
// server calls it with its lock held.
func (t *Tunnel) nextHop(n ipx.Network) (ipx.Node, bool) {
	rt := t.router.Load()
	if rt == nil {
		return ipx.Node{}, false
	}
	r, ok := rt.Table().Lookup(n)
	if !ok || r.NextHop == (ipx.Node{}) || r.Hops >= rip.Unreachable {
		return ipx.Node{}, false
	}
	return r.NextHop, true
}

// Addr returns the relay's "host:port".
func (t *Tunnel) Addr() string { return t.srv.Addr().String() }

// Stats returns the relay's counters.
func (t *Tunnel) Stats() udp.ServerStats { return t.srv.Stats() }

// Close stops the relay and waits for it.
func (t *Tunnel) Close() error {
	if r := t.router.Load(); r != nil {
		r.Close()
	}
	if t.stack != nil {
		t.stack.Close()
	}
	err := t.srv.Close()
	<-t.done
	return err
}
