//go:build linux

package main

import (
	"bytes"
	"context"
	"net"
	"os/exec"
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
	startResponder(t, rl, 0x42)
	waitUp(t, "veth0", nsA, nsB)

	target := ipx.Addr{Net: 0x42, Node: macB, Socket: echo.Socket}
	for _, frame := range []string{"auto", "ethernet_ii", "802.3", "802.2", "snap"} {
		t.Run(frame, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			var status int
			args := []string{"-ether", "veth0:" + frame + ":42",
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

// waitUp waits until ifname is operationally up in each namespace. Until
// the kernel's link watcher, up to a second after "ip link set up", sees
// the carrier, the interface drops what it is given to send, and the
// first ping would time out.
func waitUp(t *testing.T, ifname string, nss ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, ns := range nss {
		for {
			out, err := exec.Command("ip", "-n", ns, "-o", "link", "show", ifname).CombinedOutput()
			if err != nil {
				t.Fatalf("ip -n %s link show %s: %v\n%s", ns, ifname, err, out)
			}
			if strings.Contains(string(out), " state UP ") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s in %s not up after 5s: %s", ifname, ns, out)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
