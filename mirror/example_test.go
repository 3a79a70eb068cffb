package mirror_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
	"github.com/ipxkit/ipxkit/rip"
	"github.com/ipxkit/ipxkit/spx"
)

// One server of a pair: a Stack with its LAN link and the shared internal
// network, a RIP router that starts with that network withdrawn, an SPX
// listener and dialer for the MSL, and the engine.
func ExampleNewServer() {
	lan := memlan.NewSegment(memlan.Config{})
	link, _ := lan.Attach(ipx.Node{2, 0, 0, 0, 0, 1})
	st, _ := ipx.NewStack(ipx.StackConfig{})
	defer st.Close()
	st.AddLink(link, 0x1)
	internal := ipx.Network(0xC0FFEE)
	node := ipx.Node{0, 0, 0, 0, 0, 1}
	st.AddLinkConfig(ipx.NewInternalLink(node), ipx.LinkConfig{Network: internal, Shared: true})
	router, _ := rip.NewRouter(st, rip.Config{Shared: map[ipx.Network]rip.SharedState{internal: rip.SharedStandby}})
	defer router.Close()
	ln, _ := spx.Listen(st, 0x4B00)
	peer := ipx.Addr{Net: 0x1, Node: ipx.Node{2, 0, 0, 0, 0, 2}}

	srv, err := mirror.NewServer(mirror.Config{
		Stack: st, Router: router, Engine: mirrortest.NewKV(), EngineVersion: "kv1",
		Network: internal, Node: node, Start: mirror.RolePrimary,
		Key:  []byte("a shared secret of 16+ bytes"),
		Peer: peer, Listener: ln,
		Dial: func(ctx context.Context) (net.Conn, error) {
			return spx.Dial(ctx, st, ipx.Addr{Net: peer.Net, Node: peer.Node, Socket: 0x4B00})
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	fmt.Println(srv.Status().Role)
	// Output: primary
}

// A client sends requests to the engine's internal address and retries
// them, through a takeover, until its context ends.
func ExampleClient_Do() {
	var owner mirrortest.Cleanups
	defer owner.Close()
	p := mirrortest.NewPair(&owner, mirrortest.PairConfig{Clients: 1})
	p.WaitMirrored(5 * time.Second)
	p.WaitRoutes(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := p.Clients[0]
	if _, err := c.Do(ctx, mirrortest.Put("greeting", "hello")); err != nil {
		fmt.Println(err)
		return
	}
	r, _ := c.Do(ctx, mirrortest.Get("greeting"))
	_, v, _ := mirrortest.ParseReply(r)
	fmt.Println(v)
	// Output: hello
}
