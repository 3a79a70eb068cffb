//go:build linux

package sap_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"github.com/ipxkit/ipxkit/sap"
)

// vethPair creates two network namespaces joined by a veth pair (ifname
// "ipx0" on both sides, MACs 02:00:00:00:00:0a and :0b), removed in
// t.Cleanup, and returns the namespace names. It skips without root or
// iproute2.
func vethPair(t *testing.T) (nsA, nsB string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("sap: skipping raw Ethernet test: needs root for network namespaces and packet sockets")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("sap: skipping raw Ethernet test: iproute2's ip not found")
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	prefix := fmt.Sprintf("ipxsap%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	nsA, nsB = prefix+"-a", prefix+"-b"
	for _, ns := range []string{nsA, nsB} {
		ip("netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
			}
		})
	}
	ip("-n", nsA, "link", "add", "ipx0", "type", "veth", "peer", "name", "ipx0", "netns", nsB)
	ip("-n", nsA, "link", "set", "ipx0", "address", "02:00:00:00:00:0a", "up")
	ip("-n", nsB, "link", "set", "ipx0", "address", "02:00:00:00:00:0b", "up")
	return nsA, nsB
}

// inNS runs fn on a thread switched into namespace ns, then switches back.
// Sockets fn opens stay in ns whatever thread later uses them.
func inNS(t *testing.T, ns string, fn func() error) error {
	t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", ns, err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("setns back from %s: %v", ns, err) // the thread stays locked and dies with us
	}
	runtime.UnlockOSThread()
	return ferr
}

func etherStack(t *testing.T, ns string, ft ipx.FrameType) *ipx.Stack {
	t.Helper()
	var l *ether.Link
	err := inNS(t, ns, func() (err error) {
		l, err = ether.Listen("ipx0", ether.Config{FrameType: ft})
		return err
	})
	if errors.Is(err, os.ErrPermission) {
		t.Skipf("sap: skipping: packet socket not permitted: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
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
// namespaces, in each framing.
func TestEther(t *testing.T) {
	for _, ft := range []ipx.FrameType{ipx.FrameEthernetII, ipx.Frame8023Raw, ipx.Frame8022, ipx.FrameSNAP} {
		t.Run(ft.String(), func(t *testing.T) {
			nsA, nsB := vethPair(t)
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
