//go:build linux

package sap_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/internal/netnstest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"github.com/ipxkit/ipxkit/sap"
)

// The server's and the client's hardware addresses.
var (
	macA = net.HardwareAddr{2, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{2, 0, 0, 0, 0, 0x0b}
)

func etherStack(t *testing.T, ns string, ft ipx.FrameType) *ipx.Stack {
	t.Helper()
	var l *ether.Link
	netnstest.MustIn(t, ns, func() (err error) {
		l, err = ether.Listen("ipx0", ether.Config{FrameType: ft})
		return err
	})
	s, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddLink(l, 0x1234); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestEther advertises and queries over raw Ethernet between two network
// namespaces joined by a veth pair (ipx0 at both ends), in each framing.
func TestEther(t *testing.T) {
	for _, ft := range []ipx.FrameType{ipx.FrameEthernetII, ipx.Frame8023Raw, ipx.Frame8022, ipx.FrameSNAP} {
		t.Run(ft.String(), func(t *testing.T) {
			nsA, nsB := netnstest.Pair(t, "ipxsap", "ipx0", macA, macB)
			server, client := etherStack(t, nsA, ft), etherStack(t, nsB, ft)
			adv, err := sap.NewAdvertiser(server, sap.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer adv.Close()
			adv.Add(sap.Entry{Type: sap.TypeFileServer, Name: sap.MustName("ETHER-FS"), Addr: ipx.Addr{Socket: ipx.SocketNCP}, Hops: 1})

			conn, err := client.Listen(0)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// The veth carrier comes up asynchronously: allow retries.
			c, _ := sap.NewClient(conn, sap.ClientConfig{Wait: 200 * time.Millisecond, Attempts: 25})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := c.Query(ctx, sap.TypeFileServer)
			if err != nil {
				t.Fatal(err)
			}
			want := ipx.Addr{Net: 0x1234, Node: ipx.Node{2, 0, 0, 0, 0, 0x0a}, Socket: ipx.SocketNCP}
			if len(got) != 1 || got[0].Name.String() != "ETHER-FS" || got[0].Addr != want || got[0].Hops != 1 {
				t.Fatalf("got %+v, want ETHER-FS at %v", got, want)
			}
			near, err := c.Nearest(ctx, sap.TypeFileServer)
			if err != nil || near.Addr != want {
				t.Fatalf("nearest %+v, %v", near, err)
			}
		})
	}
}
