package ether_test

import (
	"fmt"
	"log"
	"net"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"github.com/mdlayher/packet"
)

// Open eth0 in auto mode and give it to a Stack as network 0x10. This needs
// root (CAP_NET_RAW) and Linux.
func ExampleListen() {
	link, err := ether.Listen("eth0", ether.Config{})
	if err != nil {
		log.Fatal(err) // matches os.ErrPermission without CAP_NET_RAW
	}
	stack, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer stack.Close()
	if _, err := stack.AddLink(link, 0x10); err != nil {
		log.Fatal(err)
	}
	conn, err := stack.Listen(0) // a dynamic socket
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening on", conn.Addr())
}

// New runs a Link over any connection that carries Ethernet frames; here
// an in-memory cable between an 802.2 host and an auto-mode one, which
// learns to answer in 802.2.
func ExampleNew() {
	nodeA := ipx.Node{0x02, 0, 0, 0, 0, 0x0a}
	nodeB := ipx.Node{0x02, 0, 0, 0, 0, 0x0b}
	endA, endB := cable()
	a, err := ether.New(endA, nodeA, ether.Config{FrameType: ipx.Frame8022})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	b, err := ether.New(endB, nodeB, ether.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	p := ipx.Packet{Header: ipx.Header{
		Checksum: ipx.ChecksumNone,
		Dst:      ipx.Addr{Net: 1, Node: nodeB, Socket: 0x4000},
		Src:      ipx.Addr{Net: 1, Node: nodeA, Socket: 0x4001},
	}, Payload: []byte("hello")}
	pkt, _ := p.MarshalBinary()
	if err := a.WritePacket(pkt, nodeB); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, b.MTU())
	n, from, err := b.ReadPacket(buf)
	if err != nil {
		log.Fatal(err)
	}
	var got ipx.Packet
	if err := got.UnmarshalBinary(buf[:n]); err != nil {
		log.Fatal(err)
	}
	ft, _ := b.PeerFrameType(from)
	fmt.Printf("%q from %v, answer in %v\n", got.Payload, from, ft)
	// Output: "hello" from 02000000000a, answer in 802.2
}

// cableEnd is one end of an in-memory Ethernet cable.
type cableEnd struct {
	in, out chan []byte
	done    chan struct{}
}

func cable() (*cableEnd, *cableEnd) {
	ab, ba := make(chan []byte, 16), make(chan []byte, 16)
	return &cableEnd{in: ba, out: ab, done: make(chan struct{})},
		&cableEnd{in: ab, out: ba, done: make(chan struct{})}
}

func (c *cableEnd) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case f := <-c.in:
		return copy(b, f), nil, nil
	case <-c.done:
		return 0, nil, net.ErrClosed
	}
}

func (c *cableEnd) WriteTo(b []byte, addr net.Addr) (int, error) {
	_ = addr.(*packet.Addr) // the destination MAC, also in the frame
	c.out <- append([]byte(nil), b...)
	return len(b), nil
}

func (c *cableEnd) SetReadDeadline(time.Time) error { return nil }

func (c *cableEnd) Close() error { close(c.done); return nil }
