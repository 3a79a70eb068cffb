//go:build linux

package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/internal/netnstest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"github.com/ipxkit/ipxkit/sap"
)

// TestRunEther runs slist -ether in one network namespace against a SAP
// server in another, joined by a veth pair the test creates and removes.
func TestRunEther(t *testing.T) {
	nsA, nsB := netnstest.Pair(t, "slist", "ipx0",
		net.HardwareAddr{2, 0, 0, 0, 0, 0x0a}, net.HardwareAddr{2, 0, 0, 0, 0, 0x0b})

	// The server, in namespace A, on network 0xbeef with 802.2 framing.
	var l *ether.Link
	netnstest.MustIn(t, nsA, func() (err error) {
		l, err = ether.Listen("ipx0", ether.Config{FrameType: ipx.Frame8022})
		return err
	})
	s, err := linkflag.NewStack(l, 0xbeef, ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, err := sap.NewAdvertiser(s, sap.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Add(sap.Entry{Type: sap.TypeFileServer, Name: sap.MustName("NS-SERVER"), Addr: ipx.Addr{Socket: ipx.SocketNCP}, Hops: 1})

	// slist in namespace B; retries cover the veth carrier coming up.
	var stdout, stderr bytes.Buffer
	status := -1
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = netnstest.In(t, nsB, func() error {
		status = run(ctx, []string{"-ether", "ipx0:802.2:beef", "-wait", "200ms", "-attempts", "25"}, &stdout, &stderr)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if status != 0 {
		t.Fatalf("status %d; stderr %s; stdout %s", status, stderr.String(), stdout.String())
	}
	want := "NS-SERVER                                        0000beef  02000000000a     1\n"
	if !strings.Contains(stdout.String(), want) {
		t.Fatalf("output lacks %q:\n%s", want, stdout.String())
	}
}
