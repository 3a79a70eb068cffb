package udp_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

// Example runs a tunnel server on loopback, connects two Stacks to it
// with Dial, as DOSBox clients would connect with "ipxnet connect", and
// sends a datagram from one to the other.
func Example() {
	srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conns := make([]*ipx.Conn, 2)
	for i := range conns {
		link, err := udp.Dial(ctx, srv.Addr().String(), udp.Config{})
		if err != nil {
			log.Fatal(err)
		}
		stack, err := ipx.NewStack(ipx.StackConfig{})
		if err != nil {
			log.Fatal(err)
		}
		defer stack.Close()
		if _, err := stack.AddLink(link, link.Network()); err != nil {
			log.Fatal(err)
		}
		if conns[i], err = stack.Listen(0x4545); err != nil {
			log.Fatal(err)
		}
	}

	if _, err := conns[0].WriteTo([]byte("hello over UDP"), conns[1].Addr()); err != nil {
		log.Fatal(err)
	}
	conns[1].SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, udp.MTU)
	n, _, err := conns[1].ReadFrom(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s; server has %d clients\n", buf[:n], srv.Stats().Clients)
	// Output: hello over UDP; server has 2 clients
}

// ExampleDial registers with a tunnel server; the server assigns the node,
// which is this end's IPv4 address and UDP port.
func ExampleDial() {
	srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	link, err := udp.Dial(ctx, srv.Addr().String(), udp.Config{})
	if err != nil {
		log.Fatal(err) // errors.Is(err, udp.ErrNoServer) when nothing answers
	}
	defer link.Close()
	ap := udp.AddrPortFromNode(link.Node())
	fmt.Println(ap.Addr(), link.MTU())
	// Output: 127.0.0.1 1424
}

// ExampleListenServer runs a tunnel server and lists its clients; DOSBox
// joins it with "ipxnet connect 127.0.0.1 PORT".
func ExampleListenServer() {
	srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{MaxClients: 32})
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	link, err := udp.Dial(ctx, srv.Addr().String(), udp.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer link.Close()
	for _, c := range srv.Clients() {
		fmt.Println(c.Node == link.Node(), c.Addr.Addr())
	}
	// Output: true 127.0.0.1
}
