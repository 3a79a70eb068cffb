package sap_test

import (
	"context"
	"fmt"
	"time"

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

// ExampleTable_Subscribe follows a table's changes; a subscriber told it
// missed some reads the whole table again.
func ExampleTable_Subscribe() {
	tab, _ := sap.NewTable(sap.TableConfig{})
	sub := tab.Subscribe(1)
	defer sub.Close()

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	from := ipx.Node{2, 0, 0, 0, 0, 1}
	for _, name := range []string{"FS1", "FS2", "FS3"} {
		tab.Update(now, sap.Entry{Type: sap.TypeFileServer, Name: sap.MustName(name), Hops: 1}, 1, from)
	}
	fmt.Println((<-sub.C).Kind, "then", sub.Missed(), "missed")
	tab.Update(now, sap.Entry{Type: sap.TypeFileServer, Name: sap.MustName("FS1"), Hops: 16}, 1, from)
	if ch := <-sub.C; ch.Missed > 0 {
		fmt.Println(ch.Kind, ch.Service.Name, "after missing", ch.Missed, "- resync:")
		for _, s := range tab.Services(sap.TypeWildcard, nil) {
			fmt.Println(s.Name)
		}
	}
	// Output:
	// added then 2 missed
	// removed FS1 after missing 2 - resync:
	// FS2
	// FS3
}
