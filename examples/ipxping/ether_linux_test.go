//go:build linux

package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/internal/netnstest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/echo"
	"github.com/ipxkit/ipxkit/ipx/ether"
)

// TestRunEther pings over raw Ethernet between two network namespaces
// the test creates, joined by a veth pair, in every frame type. The
// responder runs in auto mode and answers in the framing it hears.
func TestRunEther(t *testing.T) {
	macB := ipx.Node{0x02, 0, 0, 0, 0, 0xb}
	nsA, nsB := netnstest.Pair(t, "ipxping", "veth0",
		net.HardwareAddr{0x02, 0, 0, 0, 0, 0xa}, macB.HardwareAddr())

	var rl *ether.Link
	netnstest.MustIn(t, nsB, func() (err error) {
		rl, err = ether.Listen("veth0", ether.Config{})
		return err
	})
	rs, err := stackOn(rl, 0x42)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rs.Listen(echo.Socket)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		echo.NewResponder(rc).Serve()
	}()
	t.Cleanup(func() {
		rs.Close()
		<-done
	})

	target := ipx.Addr{Net: 0x42, Node: macB, Socket: echo.Socket}
	for _, frame := range []string{"auto", "ethernet_ii", "802.3", "802.2", "snap"} {
		t.Run(frame, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			var status int
			args := []string{"-link", "ether", "-I", "veth0", "-frame", frame, "-net", "42",
				"-c", "3", "-i", "10ms", "-s", "40", target.String()}
			if err := netnstest.In(t, nsA, func() error {
				status = run(ctx, args, &out, &errb)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if status != 0 || !strings.Contains(out.String(), "3 received") {
				t.Errorf("status %d, stderr %s\n%s", status, errb.String(), out.String())
			}
		})
	}
}
