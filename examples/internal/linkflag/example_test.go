package linkflag_test

import (
	"fmt"
	"io"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
)

// A program registers the link flags, parses, and checks that one link
// was named; Open would then register with the tunnel server.
func ExampleLink_Register() {
	var l linkflag.Link
	fs := linkflag.NewFlagSet("prog", "usage: prog [flags]\n", io.Discard)
	l.Register(fs, "use the in-memory demo network")
	if err := fs.Parse([]string{"-udp-server", "127.0.0.1:213"}); err != nil {
		fmt.Println(err)
		return
	}
	if err := l.Choose(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(l.Kind, l.Server, l.Network)

	var none linkflag.Link
	fs = linkflag.NewFlagSet("prog", "", io.Discard)
	none.Register(fs, "demo")
	fs.Parse(nil)
	fmt.Println(none.Choose())
	// Output:
	// -udp-server 127.0.0.1:213 00000001
	// choose one link: -memlan-demo, -udp-server or -ether
}

func ExampleParseNetwork() {
	for _, s := range []string{"beef", "0x0000000a", "xyz"} {
		n, err := linkflag.ParseNetwork(s)
		fmt.Println(n, err)
	}
	// Output:
	// 0000beef <nil>
	// 0000000a <nil>
	// 00000000 network "xyz": not a 32-bit hex number (not hex)
}

func ExampleParseFrame() {
	for _, s := range []string{"802.2", "token-ring"} {
		ft, err := linkflag.ParseFrame(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(ft)
	}
	// Output:
	// 802.2
	// frame "token-ring": unknown frame type (want auto, ethernet_ii, 802.3, 802.2 or snap)
}
