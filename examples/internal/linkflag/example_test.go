package linkflag_test

import (
	"fmt"
	"os"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
)

// A program registers the link flags, parses, and checks that one link
// was named; Open would then register with the tunnel server.
func ExampleLink_Register() {
	var l linkflag.Link
	fs := linkflag.NewFlagSet("prog", "usage: prog [flags]\n")
	l.Register(fs, "use the in-memory demo network")
	if err := fs.Parse([]string{"-ether", "eth0:802.2:a"}); err != nil {
		fmt.Println(err)
		return
	}
	if err := l.Choose(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(l.Kind, l.Iface, l.Frame, l.Network)

	var none linkflag.Link
	fs = linkflag.NewFlagSet("prog", "")
	none.Register(fs, "demo")
	fs.Parse(nil)
	err := none.Choose()
	fmt.Println(err)
	linkflag.Usage(os.Stdout, fs, err)
	// Output:
	// -ether eth0 802.2 0000000a
	// choose one link: -memlan-demo, -udp-server or -ether
	// prog: choose one link: -memlan-demo, -udp-server or -ether
	// Run 'prog -h' for usage.
}

func ExampleParseNetwork() {
	for _, s := range []string{"beef", "0x0000000a", "xyz", "ffffffff"} {
		n, err := linkflag.ParseNetwork(s)
		fmt.Println(n, err)
	}
	// Output:
	// 0000beef <nil>
	// 0000000a <nil>
	// 00000000 network "xyz": not a segment's network number (not hex)
	// 00000000 network "ffffffff": not a segment's network number (ffffffff means every network)
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
