package linkflag

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// LearnWait bounds how long DialTunnel listens for a router to tell the
// tunnel's network number, when the server's registration reply did not.
const LearnWait = 250 * time.Millisecond

// DialUDP registers with the tunnel server at host[:port], giving up
// after RegisterTimeout or when ctx ends. The link is on the network the
// server's reply names, 0 for a DOSBox server; DialTunnel learns it from
// a router too.
func DialUDP(ctx context.Context, server string) (*udp.Link, error) {
	ctx, cancel := context.WithTimeout(ctx, RegisterTimeout)
	defer cancel()
	l, err := udp.Dial(ctx, server, udp.Config{})
	if err != nil {
		return nil, fmt.Errorf("-udp-server %s: %w", server, err)
	}
	return l, nil
}

// DialTunnel registers with the tunnel server at host[:port] as DialUDP
// does and returns the link and the network it is on.
//
// A DOSBox server assigns no network (its reply says 0, "this network").
// A routing tunnel server, ipxroute -udp-listen host:port/net, numbers
// its tunnel: so when the reply says 0, DialTunnel asks, as a NetWare
// workstation does when it starts, with a RIP request for all routes,
// and takes the network from the source address of the first answer.
// If no router answers within LearnWait the network stays 0.
func DialTunnel(ctx context.Context, server string) (ipx.Link, ipx.Network, error) {
	l, err := DialUDP(ctx, server)
	if err != nil {
		return nil, 0, err
	}
	if n := l.Network(); n != 0 {
		return l, n, nil
	}
	t := &tunnelLink{Link: l}
	return t, t.learn(ctx, LearnWait), nil
}

// tunnelLink is a tunnel Link that may have a read in flight, started
// while its network was being learned; the first ReadPacket takes it.
// Only a Stack's one reader calls ReadPacket, so ahead needs no lock.
type tunnelLink struct {
	*udp.Link
	ahead chan readResult // the read in flight, or nil
}

type readResult struct {
	b    []byte
	from ipx.Node
	err  error
}

// ReadPacket implements ipx.Link: the packet read ahead, then the tunnel's.
func (t *tunnelLink) ReadPacket(b []byte) (int, ipx.Node, error) {
	if ch := t.ahead; ch != nil {
		t.ahead = nil
		r := <-ch
		if r.err != nil {
			return 0, r.from, r.err
		}
		return copy(b, r.b), r.from, nil
	}
	return t.Link.ReadPacket(b)
}

// learn broadcasts a RIP request for all routes, twice, and returns the
// source network of the first RIP response for this node within wait,
// or 0. Other packets are dropped: no Stack has the link yet.
func (t *tunnelLink) learn(ctx context.Context, wait time.Duration) ipx.Network {
	req := ipx.Packet{
		Header: ipx.Header{Checksum: ipx.ChecksumNone, Type: ipx.TypeRIP,
			Dst: ipx.Addr{Node: ipx.NodeBroadcast, Socket: ipx.SocketRIP},
			Src: ipx.Addr{Node: t.Node(), Socket: ipx.SocketRIP}},
		// Operation 1, request; one entry: every network, hops and
		// ticks unknown.
		Payload: []byte{0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
	}
	wire, err := req.MarshalBinary()
	if err != nil || t.WritePacket(wire, ipx.NodeBroadcast) != nil {
		return 0
	}
	done := time.NewTimer(wait)
	defer done.Stop()
	again := time.NewTimer(wait / 2) // a lost request is asked again
	defer again.Stop()
	for {
		if t.ahead == nil {
			ch := make(chan readResult, 1)
			go func() {
				buf := make([]byte, t.MTU())
				n, from, err := t.Link.ReadPacket(buf)
				ch <- readResult{buf[:n], from, err}
			}()
			t.ahead = ch
		}
		select {
		case r := <-t.ahead:
			t.ahead = nil
			if r.err != nil {
				return 0
			}
			if n := ripSource(r.b, t.Node()); n != 0 {
				return n
			}
		case <-again.C:
			t.WritePacket(wire, ipx.NodeBroadcast)
		case <-done.C:
			return 0
		case <-ctx.Done():
			return 0
		}
	}
}

// ripSource returns the source network of b if it is a RIP response to
// node (or broadcast) from a numbered network, else 0.
func ripSource(b []byte, node ipx.Node) ipx.Network {
	var h ipx.Header
	if h.UnmarshalBinary(b) != nil || len(b) < ipx.HeaderLen+2 || h.Src.Socket != ipx.SocketRIP ||
		(h.Dst.Node != node && h.Dst.Node != ipx.NodeBroadcast) ||
		binary.BigEndian.Uint16(b[ipx.HeaderLen:]) != 2 {
		return 0
	}
	switch h.Src.Net {
	case ipx.NetworkLocal, ipx.NetworkDefault, ipx.NetworkAll:
		return 0
	}
	return h.Src.Net
}
