//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/echo"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"golang.org/x/sys/unix"
)

// TestRunEther pings over raw Ethernet between two network namespaces
// the test creates, joined by a veth pair, in every frame type. The
// responder runs in auto mode and answers in the framing it hears.
func TestRunEther(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ipxping: skipping raw Ethernet test: needs root for namespaces and packet sockets")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ipxping: skipping raw Ethernet test: iproute2's ip not found")
	}
	prefix := fmt.Sprintf("ipxping%d", os.Getpid())
	nsA, nsB := prefix+"-a", prefix+"-b"
	for _, ns := range []string{nsA, nsB} {
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
			}
		})
	}
	macB := ipx.Node{0x02, 0, 0, 0, 0, 0xb}
	ipCmd(t, "-n", nsA, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", nsB)
	ipCmd(t, "-n", nsA, "link", "set", "veth0", "address", "02:00:00:00:00:0a", "up")
	ipCmd(t, "-n", nsB, "link", "set", "veth0", "address", macB.HardwareAddr().String(), "up")

	var rl *ether.Link
	if err := inNS(t, nsB, func() (err error) {
		rl, err = ether.Listen("veth0", ether.Config{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
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
			if err := inNS(t, nsA, func() error {
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

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// inNS runs fn on a thread switched into namespace ns, then switches
// back. Sockets fn opens stay in ns.
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
		// Leave the thread locked: it dies with the goroutine rather than
		// run others in the wrong namespace.
		t.Fatalf("setns back from %s: %v", ns, err)
	}
	runtime.UnlockOSThread()
	return ferr
}
