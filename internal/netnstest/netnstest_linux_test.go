//go:build linux

package netnstest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

func TestUniqueName(t *testing.T) {
	a, b := UniqueName("x"), UniqueName("x")
	if a == b {
		t.Fatalf("UniqueName returned %q twice", a)
	}
	for _, n := range []string{a, b} {
		if !strings.HasPrefix(n, fmt.Sprintf("x%d-", os.Getpid())) {
			t.Errorf("UniqueName = %q, want prefix x and the PID", n)
		}
	}
}

// threadNS names the network namespace of the calling thread.
func threadNS(t *testing.T) string {
	t.Helper()
	s, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPair checks both ends of a Pair from inside their namespaces, that
// In switches the thread and back, and that the namespaces are gone once
// the test that made them ends.
func TestPair(t *testing.T) {
	Require(t)
	macA := net.HardwareAddr{2, 0, 0, 0, 0, 0xa}
	macB := net.HardwareAddr{2, 0, 0, 0, 0, 0xb}
	const ifname = "nstest0"
	var made []string
	t.Run("pair", func(t *testing.T) {
		nsA, nsB := Pair(t, "nstest", ifname, macA, macB)
		made = []string{nsA, nsB}
		runtime.LockOSThread()
		home := threadNS(t)
		runtime.UnlockOSThread()
		for _, end := range []struct {
			ns  string
			mac net.HardwareAddr
		}{{nsA, macA}, {nsB, macB}} {
			var inside string
			err := In(t, end.ns, func() error {
				inside = threadNS(t)
				ifi, err := net.InterfaceByName(ifname)
				if err != nil {
					return err
				}
				if ifi.HardwareAddr.String() != end.mac.String() || ifi.Flags&net.FlagUp == 0 {
					return fmt.Errorf("%s is %v, flags %v; want %v, up", ifname, ifi.HardwareAddr, ifi.Flags, end.mac)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("in %s: %v", end.ns, err)
			}
			if inside == home {
				t.Fatalf("In ran fn in the test's own namespace %s", home)
			}
			runtime.LockOSThread()
			back := threadNS(t)
			runtime.UnlockOSThread()
			if back != home {
				t.Fatalf("after In the thread is in %s, want %s", back, home)
			}
		}
		if _, err := net.InterfaceByName(ifname); err == nil {
			t.Fatalf("%s exists outside the namespaces", ifname)
		}
	})
	if len(made) != 2 {
		t.Fatal("the pair was not made")
	}
	for _, ns := range made {
		if _, err := os.Stat("/run/netns/" + ns); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s left after its test ended (stat: %v)", ns, err)
		}
	}
}

// TestTopology plugs two hosts into a bridge and checks the ports, and a
// veth pair within one namespace.
func TestTopology(t *testing.T) {
	tp := New(t, "nstest")
	br := tp.Bridge("br", true)
	h0, h1 := tp.Namespace("h0"), tp.Namespace("h1")
	mac0 := net.HardwareAddr{2, 0, 0, 0, 1, 0}
	tp.Plug(br, h0, "eth0", mac0)
	tp.Plug(br, h1, "eth0", net.HardwareAddr{2, 0, 0, 0, 1, 1})
	out, err := exec.Command("ip", "-n", br, "-o", "link", "show", "master", "br0").CombinedOutput()
	if err != nil {
		t.Fatalf("ip link show: %v\n%s", err, out)
	}
	for _, port := range []string{"p1@", "p2@"} {
		if !strings.Contains(string(out), port) {
			t.Errorf("bridge ports lack %s:\n%s", port, out)
		}
	}
	ageing, err := exec.Command("ip", "-n", br, "-d", "link", "show", "br0").CombinedOutput()
	if err != nil || !strings.Contains(string(ageing), "ageing_time 0 ") {
		t.Errorf("hub bridge ageing: %v\n%s", err, ageing)
	}
	Veth(t, End{NS: h0, Name: "d0"}, End{NS: h0, Name: "d1"})
	MustIn(t, h0, func() error {
		for _, name := range []string{"eth0", "d0", "d1"} {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				return err
			}
			if name == "eth0" && ifi.HardwareAddr.String() != mac0.String() {
				return fmt.Errorf("eth0 is %v, want %v", ifi.HardwareAddr, mac0)
			}
		}
		return nil
	})
}

func TestInErrors(t *testing.T) {
	Require(t)
	ran := false
	err := In(t, UniqueName("nosuch"), func() error { ran = true; return nil })
	if err == nil || ran {
		t.Fatalf("In a missing namespace: err %v, fn ran %v; want an error and fn not run", err, ran)
	}
	ns := New(t, "nstest").Namespace("h")
	want := errors.New("from fn")
	if err := In(t, ns, func() error { return want }); err != want {
		t.Fatalf("In = %v, want fn's error", err)
	}
	// MustIn skips on a permission error.
	var skipped bool
	t.Run("permission", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		MustIn(t, ns, func() error { return fmt.Errorf("open: %w", os.ErrPermission) })
	})
	if !skipped {
		t.Fatal("MustIn did not skip on os.ErrPermission")
	}
}
