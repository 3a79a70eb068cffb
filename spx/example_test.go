package spx_test

import (
	"context"
	"fmt"
	"io"
	"log"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/spx"
)

// twoStacks puts two Stacks on an in-memory segment, network 1.
func twoStacks() (a, b *ipx.Stack, bNode ipx.Node) {
	seg := memlan.NewSegment(memlan.Config{})
	mk := func(n ipx.Node) *ipx.Stack {
		l, err := seg.Attach(n)
		if err != nil {
			log.Fatal(err)
		}
		s, err := ipx.NewStack(ipx.StackConfig{})
		if err != nil {
			log.Fatal(err)
		}
		if _, err := s.AddLink(l, 1); err != nil {
			log.Fatal(err)
		}
		return s
	}
	bNode = ipx.Node{2, 0, 0, 0, 0, 2}
	return mk(ipx.Node{2, 0, 0, 0, 0, 1}), mk(bNode), bNode
}

// A server accepts one connection and answers a request; the client
// releases its direction (SPX II orderly release) to mark the end of the
// request.
func Example() {
	client, server, serverNode := twoStacks()
	defer client.Close()
	defer server.Close()

	ln, err := spx.Listen(server, 0x5000)
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.AcceptSPX()
		if err != nil {
			return
		}
		defer c.Close()
		req, _ := io.ReadAll(c) // ends at the client's release
		fmt.Fprintf(c, "hello, %s", req)
		c.CloseWrite()
	}()

	c, err := spx.Dial(context.Background(), client, ipx.Addr{Net: 1, Node: serverNode, Socket: 0x5000})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("SPX II:", c.SPX2(), "data per packet:", c.MaxData())
	c.Write([]byte("world"))
	c.CloseWrite()
	resp, err := io.ReadAll(c)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(resp))
	// Output:
	// SPX II: true data per packet: 1456
	// hello, world
}

// Messages keep their boundaries: the last packet of each carries the
// end-of-message flag, which ReadMessage reports.
func ExampleConn_ReadMessage() {
	client, server, serverNode := twoStacks()
	defer client.Close()
	defer server.Close()

	ln, err := spx.ListenConfig(server, 0x5000, spx.Config{PlainSPX: true})
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.AcceptSPX()
		if err != nil {
			return
		}
		c.WriteMessage([]byte("first"))
		c.WriteMessage([]byte("second"))
		c.WriteAttention([]byte{'!'})
		c.Close()
	}()

	c, err := spx.Dial(context.Background(), client, ipx.Addr{Net: 1, Node: serverNode, Socket: 0x5000})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 100)
	for {
		n, info, err := c.ReadMessage(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%q eom=%v attention=%v\n", buf[:n], info.EOM, info.Attention)
	}
	// Output:
	// "first" eom=true attention=false
	// "second" eom=true attention=false
	// "!" eom=true attention=true
}
