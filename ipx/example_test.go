package ipx_test

import (
	"fmt"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/ipxkit/ipxkit/ipx"
)

func ExampleParseAddr() {
	a, err := ipx.ParseAddr("00000001:0a:0b:0c:0d:0e:0f:0451")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(a)
	fmt.Println(a.Net, a.Node, a.Socket == ipx.SocketNCP)

	_, err = ipx.ParseAddr("1:0a0b0c:0451")
	fmt.Println(err)
	// Output:
	// 00000001:0a0b0c0d0e0f:0451
	// 00000001 0a0b0c0d0e0f true
	// ipx: address "1:0a0b0c:0451": bad address
}

func ExamplePacket_MarshalBinary() {
	src, _ := ipx.ParseAddr("00000001:020000000001:4001")
	dst, _ := ipx.ParseAddr("00000002:020000000002:4002")
	p := ipx.Packet{
		Header:  ipx.Header{Checksum: ipx.ChecksumNone, Type: ipx.TypePEP, Dst: dst, Src: src},
		Payload: []byte("hi"),
	}
	b, err := p.MarshalBinary() // sets the length field
	if err != nil {
		fmt.Println(err)
		return
	}
	ipx.PutChecksum(b) // optional; never for raw 802.3
	fmt.Printf("% x\n", b[:6])

	var q ipx.Packet
	if err := q.UnmarshalBinary(b); err != nil { // verifies the checksum
		fmt.Println(err)
		return
	}
	fmt.Println(q.Header.Src, ">", q.Header.Dst, q.Header.Type, q.Header.Length, string(q.Payload))
	// Output:
	// 13 69 00 20 00 04
	// 00000001:020000000001:4001 > 00000002:020000000002:4002 PEP 32 hi
}

func ExampleFrame_UnmarshalBinary() {
	// An 802.2 frame, padded to the Ethernet minimum of 60 bytes.
	frame := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Ethernet destination
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // Ethernet source
		0x00, 0x22, // 802.3 length
		0xe0, 0xe0, 0x03, // LLC
		0xff, 0xff, 0x00, 0x1f, 0x00, 0x01, // IPX checksum, length 31, hops, type RIP
		0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x04, 0x53,
		0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x04, 0x53,
		0x42,                                     // one byte of data
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // padding
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	}
	var f ipx.Frame
	if err := f.UnmarshalBinary(frame); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Type, f.Src, f.Packet.Header.Src, ">", f.Packet.Header.Dst, f.Packet.Header.Type)
	fmt.Printf("payload % x\n", f.Packet.Payload) // padding ignored
	// Output:
	// 802.2 020000000001 00000001:020000000001:0453 > 00000000:ffffffffffff:0453 RIP
	// payload 42
}

func ExampleEthernetIPX() {
	f := ipx.Frame{
		Type: ipx.Frame8023Raw,
		Dst:  ipx.NodeBroadcast,
		Src:  ipx.Node{2, 0, 0, 0, 0, 1},
		Packet: ipx.Packet{Header: ipx.Header{
			Checksum: ipx.ChecksumNone, Type: ipx.TypeNCP,
			Dst: ipx.Addr{Net: 1, Node: ipx.NodeBroadcast, Socket: ipx.SocketNCP},
			Src: ipx.Addr{Net: 1, Node: ipx.Node{2, 0, 0, 0, 0, 1}, Socket: 0x4001},
		}, Payload: []byte{0x11, 0x11}},
	}
	frame, _ := f.MarshalBinary()

	// A DecodingLayerParser that reads any of the four framings, without
	// allocating.
	var (
		eth     ipx.EthernetIPX
		x       ipx.IPX
		payload gopacket.Payload
		decoded []gopacket.LayerType
	)
	parser := gopacket.NewDecodingLayerParser(ipx.LayerTypeEthernetIPX, &eth, &x, &payload)
	if err := parser.DecodeLayers(frame, &decoded); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(decoded, eth.Type, x.Header.Dst, len(payload))

	// gopacket's own Ethernet decoder reaches IPX too, once this package
	// is linked in.
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	fmt.Println(p.Layer(ipx.LayerTypeIPX).(*ipx.IPX).Header.Type)
	// Output:
	// [EthernetIPX IPX Payload] 802.3 00000001:ffffffffffff:0451 2
	// NCP
}
