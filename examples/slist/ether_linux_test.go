//go:build linux

package main

import (
	"bytes"
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

// TestRunEther runs slist -ether in one network namespace against a SAP
// server in another, joined by a veth pair the test creates and removes.
func TestRunEther(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("slist: skipping raw Ethernet test: needs root for network namespaces and packet sockets")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("slist: skipping raw Ethernet test: iproute2's ip not found")
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	prefix := fmt.Sprintf("slist%d", os.Getpid())
	nsA, nsB := prefix+"-a", prefix+"-b"
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

	// The server, in namespace A, on network 0xbeef with 802.2 framing.
	var l *ether.Link
	err := inNS(t, nsA, func() (err error) {
		l, err = ether.Listen("ipx0", ether.Config{FrameType: ipx.Frame8022})
		return err
	})
	if errors.Is(err, os.ErrPermission) {
		t.Skipf("slist: skipping: packet socket not permitted: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := stackOn(l, 0xbeef, false)
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
	err = inNS(t, nsB, func() error {
		status = run(ctx, []string{"-ether", "ipx0", "-net", "beef", "-frame", "802.2", "-wait", "200ms", "-attempts", "25"}, &stdout, &stderr)
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
