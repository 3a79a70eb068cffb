package memlan_test

import (
	"fmt"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

func Example() {
	seg := memlan.NewSegment(memlan.Config{Seed: 1})
	a, _ := seg.Attach(ipx.Node{2, 0, 0, 0, 0, 1})
	b, _ := seg.Attach(ipx.Node{2, 0, 0, 0, 0, 2})
	defer a.Close()
	defer b.Close()

	// Lose one packet in ten sent by a; b's sends stay perfect.
	a.SetImpairments(memlan.Impairments{Loss: 0.1})

	a.WritePacket([]byte("hello"), ipx.NodeBroadcast)
	buf := make([]byte, b.MTU())
	n, from, _ := b.ReadPacket(buf)
	fmt.Printf("%s from %s\n", buf[:n], from)
	// Output: hello from 020000000001
}
