package sap_test

import (
	"context"
	"fmt"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/sap"
)

func ExampleParseName() {
	n, err := sap.ParseName("FS1")
	fmt.Println(n, n.Len(), err)
	_, err = sap.ParseName("tab\tinside")
	fmt.Println(err)
	// Output:
	// FS1 3 <nil>
	// sap: name "tab\tinside": byte 0x09 at 3 is not printable ASCII: bad service name
}

func ExampleMessage_UnmarshalBinary() {
	m := sap.Message{Op: sap.OpGeneralResponse, Entries: []sap.Entry{{
		Type: sap.TypeFileServer, Name: sap.MustName("FS1"),
		Addr: ipx.Addr{Net: 1, Node: ipx.Node{2, 0, 0, 0, 0, 1}, Socket: ipx.SocketNCP}, Hops: 1,
	}}}
	b, _ := m.MarshalBinary()
	fmt.Println(len(b), "bytes")

	got := sap.NewMessage() // room for 7 entries: decoding does not allocate
	if err := got.UnmarshalBinary(b); err != nil {
		fmt.Println(err)
	}
	fmt.Println(got)
	// Output:
	// 66 bytes
	// SAP general response 1 service: 0004 FS1 00000001:020000000001:0451/1
}

// ExampleAdvertiser advertises a file server on one stack of an in-memory
// segment and lists file servers from another.
func ExampleAdvertiser() {
	seg := memlan.NewSegment(memlan.Config{})
	newStack := func(n byte) *ipx.Stack {
		s, _ := ipx.NewStack(ipx.StackConfig{})
		l, _ := seg.Attach(ipx.Node{2, 0, 0, 0, 0, n})
		s.AddLink(l, 0x10)
		return s
	}
	server, client := newStack(1), newStack(2)
	defer server.Close()
	defer client.Close()

	adv, err := sap.NewAdvertiser(server, sap.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer adv.Close()
	adv.Add(sap.Entry{Type: sap.TypeFileServer, Name: sap.MustName("FS1"), Addr: ipx.Addr{Socket: ipx.SocketNCP}, Hops: 1})

	servers, err := sap.Query(context.Background(), client, sap.TypeFileServer)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range servers {
		fmt.Println(s.Name, s.Addr, s.Hops)
	}
	// Output: FS1 00000010:020000000001:0451 1
}
