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
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// seq numbers the Topologies of one process.
var seq atomic.Int64

// Require skips t unless it can build namespaces: it must run as root,
// find iproute2's ip in PATH and switch threads between namespaces.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("netnstest: skipping network-namespace test: needs root to create namespaces and open packet sockets")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("netnstest: skipping network-namespace test: iproute2's ip command not found in PATH")
	}
	if _, err := os.Stat("/proc/thread-self/ns/net"); err != nil {
		t.Skipf("netnstest: skipping network-namespace test: cannot switch namespaces: %v", err)
	}
}

// UniqueName returns prefix followed by the process ID and a counter,
// as in "ipxsap1234-5": no other call in this process, nor a concurrent
// test process using the same prefix, gets the same name.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), seq.Add(1))
}

// IP runs iproute2's ip with args and fails t, with ip's output, if it
// fails.
func IP(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Topology creates the namespaces of one test; their names share a
// prefix unique to it.
type Topology struct {
	t      testing.TB
	prefix string
	ports  int
}

// New calls Require, then returns an empty Topology whose namespaces are
// named UniqueName(prefix) + "-" + name.
func New(t testing.TB, prefix string) *Topology {
	t.Helper()
	Require(t)
	return &Topology{t: t, prefix: UniqueName(prefix)}
}

// Namespace creates the namespace prefix-name, deleted in t.Cleanup, and
// returns its full name.
func (tp *Topology) Namespace(name string) string {
	tp.t.Helper()
	full := tp.prefix + "-" + name
	IP(tp.t, "netns", "add", full)
	tp.t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", full).CombinedOutput(); err != nil {
			tp.t.Errorf("ip netns del %s: %v\n%s", full, err, out)
		}
	})
	return full
}

// Bridge creates a namespace holding bridge br0, spanning tree off, up,
// and returns the namespace's name. With hub set the bridge learns no
// addresses (ageing time 0), so it floods every unicast to every port.
func (tp *Topology) Bridge(name string, hub bool) string {
	tp.t.Helper()
	ns := tp.Namespace(name)
	args := []string{"-n", ns, "link", "add", "br0", "type", "bridge", "stp_state", "0"}
	if hub {
		args = append(args, "ageing_time", "0")
	}
	IP(tp.t, args...)
	IP(tp.t, "-n", ns, "link", "set", "br0", "up")
	return ns
}

// Plug connects a new interface ifname with hardware address mac in
// namespace host to the bridge of namespace br (made by Bridge) through
// a veth pair, and brings both ends up. The bridge end is port pN, N
// counting the Topology's plugs.
func (tp *Topology) Plug(br, host, ifname string, mac net.HardwareAddr) {
	tp.t.Helper()
	tp.ports++
	port := fmt.Sprintf("p%d", tp.ports)
	IP(tp.t, "-n", br, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", host)
	IP(tp.t, "-n", host, "link", "set", ifname, "address", mac.String(), "up")
	IP(tp.t, "-n", br, "link", "set", port, "master", "br0", "up")
}

// End is one end of a veth pair: interface Name in namespace NS, with
// hardware address MAC, or one the kernel picks when MAC is nil.
type End struct {
	NS   string
	Name string
	MAC  net.HardwareAddr
}

// Veth creates a veth pair between a and b, which may be in the same
// namespace, and brings both ends up. Deleting either namespace removes
// the pair.
func Veth(t testing.TB, a, b End) {
	t.Helper()
	IP(t, "-n", a.NS, "link", "add", a.Name, "type", "veth", "peer", "name", b.Name, "netns", b.NS)
	for _, e := range []End{a, b} {
		args := []string{"-n", e.NS, "link", "set", e.Name}
		if e.MAC != nil {
			args = append(args, "address", e.MAC.String())
		}
		IP(t, append(args, "up")...)
	}
}

// Pair creates two namespaces, named with prefix and ending in "-a" and
// "-b", joined by a veth pair whose ends are both called ifname, with
// hardware addresses macA and macB (nil lets the kernel choose), and
// returns their names. It skips t as Require does.
func Pair(t testing.TB, prefix, ifname string, macA, macB net.HardwareAddr) (nsA, nsB string) {
	t.Helper()
	tp := New(t, prefix)
	nsA, nsB = tp.Namespace("a"), tp.Namespace("b")
	Veth(t, End{NS: nsA, Name: ifname, MAC: macA}, End{NS: nsB, Name: ifname, MAC: macB})
	return nsA, nsB
}

// In runs fn on the calling goroutine's thread, locked and switched into
// namespace ns, then switches the thread back and unlocks it. Sockets fn
// opens stay in ns whatever thread later uses them; goroutines fn starts
// run outside it. The error is fn's, or why the switch failed (then fn
// has not run). If the thread cannot switch back, In fails t and leaves
// the thread locked, so that it ends with the goroutine instead of
// running others in the wrong namespace; call In from the test's
// goroutine for that reason.
func In(t testing.TB, ns string, fn func() error) error {
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
		t.Fatalf("setns back from %s: %v", ns, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// MustIn runs fn in namespace ns as In does, typically to open a packet
// socket there. It skips t when the error matches os.ErrPermission (no
// CAP_NET_RAW, say) and fails t on any other error.
func MustIn(t testing.TB, ns string, fn func() error) {
	t.Helper()
	err := In(t, ns, fn)
	if errors.Is(err, os.ErrPermission) {
		t.Skipf("netnstest: skipping: not permitted in namespace %s: %v", ns, err)
	}
	if err != nil {
		t.Fatalf("in namespace %s: %v", ns, err)
	}
}
