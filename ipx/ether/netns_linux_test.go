//go:build linux

package ether

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/internal/netnstest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// These tests build Linux bridges and hosts out of network namespaces they
// create with netnstest (names unique per process and test, removed in
// t.Cleanup), so no frame leaves them. They need root and iproute2.

// probeSocket marks the readiness probes that waitReady sends; readNext
// skips them.
const probeSocket ipx.Socket = 0x7E57

// ioTimeout bounds every wait for a frame in these tests.
const ioTimeout = 5 * time.Second

// listenIn opens a Link on ifname in namespace ns.
func listenIn(t testing.TB, ns, ifname string, cfg Config) *Link {
	t.Helper()
	var l *Link
	netnstest.MustIn(t, ns, func() (err error) {
		l, err = Listen(ifname, cfg)
		return err
	})
	t.Cleanup(func() { l.Close() })
	return l
}

// sniffer is an unfiltered packet socket that sees every frame on an
// interface, to check what went on the wire.
type sniffer struct {
	t testing.TB
	c *packet.Conn
}

func sniff(t testing.TB, ns, ifname string) *sniffer {
	t.Helper()
	var c *packet.Conn
	netnstest.MustIn(t, ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		c, err = packet.Listen(ifi, packet.Raw, ethPAll, nil)
		return err
	})
	t.Cleanup(func() { c.Close() })
	return &sniffer{t: t, c: c}
}

// expect returns the first frame that contains payload, failing after
// ioTimeout.
func (s *sniffer) expect(payload string) []byte {
	s.t.Helper()
	s.c.SetReadDeadline(time.Now().Add(ioTimeout))
	b := make([]byte, 2048)
	for {
		n, _, err := s.c.ReadFrom(b)
		if err != nil {
			s.t.Fatalf("sniffer: no frame with %q: %v", payload, err)
		}
		if bytes.Contains(b[:n], []byte(payload)) {
			return bytes.Clone(b[:n])
		}
	}
}

// waitReady sends broadcast probes on every link until each has heard
// every other in one round: veth carrier and qdisc come up asynchronously,
// and frames sent before that are lost.
func waitReady(t testing.TB, links ...*Link) {
	t.Helper()
	buf := make([]byte, 2048)
	for round := range 50 {
		for _, l := range links {
			p := probePacket(t, l.Node(), round)
			if err := l.WritePacket(p, ipx.NodeBroadcast); err != nil {
				t.Fatalf("probe: %v", err)
			}
		}
		ready := true
		for _, l := range links {
			heard := map[ipx.Node]bool{}
			l.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			for len(heard) < len(links)-1 {
				n, from, err := l.ReadPacket(buf)
				if errors.Is(err, os.ErrDeadlineExceeded) {
					break
				}
				if err != nil {
					t.Fatalf("probe read: %v", err)
				}
				var h ipx.Header
				if h.UnmarshalBinary(buf[:n]) == nil && h.Dst.Socket == probeSocket && buf[n-1] == byte(round) {
					heard[from] = true
				}
			}
			ready = ready && len(heard) == len(links)-1
		}
		if ready {
			for _, l := range links {
				l.SetReadDeadline(time.Time{})
			}
			return
		}
	}
	t.Fatal("segment never carried probes between all links")
}

func probePacket(t testing.TB, src ipx.Node, round int) []byte {
	p := ipx.Packet{Header: ipx.Header{
		Checksum: ipx.ChecksumNone,
		Dst:      ipx.Addr{Node: ipx.NodeBroadcast, Socket: probeSocket},
		Src:      ipx.Addr{Node: src, Socket: probeSocket},
	}, Payload: []byte{byte(round)}}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readNext returns the next packet on l that is not a probe.
func readNext(t testing.TB, l *Link) ([]byte, ipx.Node) {
	t.Helper()
	l.SetReadDeadline(time.Now().Add(ioTimeout))
	defer l.SetReadDeadline(time.Time{})
	b := make([]byte, 2048)
	for {
		n, from, err := l.ReadPacket(b)
		if err != nil {
			t.Fatalf("ReadPacket on %v: %v", l.Node(), err)
		}
		var h ipx.Header
		if h.UnmarshalBinary(b[:n]) == nil && h.Dst.Socket == probeSocket {
			continue
		}
		return b[:n], from
	}
}

func expectPacket(t testing.TB, l *Link, want []byte, wantFrom ipx.Node) {
	t.Helper()
	got, from := readNext(t, l)
	if !bytes.Equal(got, want) || from != wantFrom {
		t.Fatalf("%v received % x from %v, want % x from %v", l.Node(), got, from, want, wantFrom)
	}
}

func mac(topo, host int) ipx.Node { return ipx.Node{0x02, 0x49, 0x50, 0x58, byte(topo), byte(host)} }

// segment is three hosts on one hub-mode bridge, eth0 in each.
type segment struct {
	hosts []string
	macs  []ipx.Node
}

func newSegment(t testing.TB, hub bool) *segment {
	tp := netnstest.New(t, "ipxe")
	br := tp.Bridge("br", hub)
	s := &segment{}
	for i := range 3 {
		ns := tp.Namespace(fmt.Sprintf("h%d", i))
		m := mac(1, i)
		tp.Plug(br, ns, "eth0", m.HardwareAddr())
		s.hosts = append(s.hosts, ns)
		s.macs = append(s.macs, m)
	}
	// Wait for the wire once, with throw-away links.
	var links []*Link
	for _, ns := range s.hosts {
		links = append(links, listenIn(t, ns, "eth0", Config{FrameType: ipx.FrameEthernetII}))
	}
	waitReady(t, links...)
	for _, l := range links {
		l.Close()
	}
	return s
}

func (s *segment) links(t testing.TB, cfgs ...Config) []*Link {
	var links []*Link
	for i, ns := range s.hosts {
		links = append(links, listenIn(t, ns, "eth0", cfgs[i]))
	}
	return links
}

func TestNetnsLinkFraming(t *testing.T) {
	seg := newSegment(t, true)
	for _, ft := range allTypes {
		t.Run(ft.String(), func(t *testing.T) {
			cfg := Config{FrameType: ft}
			l := seg.links(t, cfg, cfg, cfg)
			if l[0].Node() != seg.macs[0] {
				t.Fatalf("Node = %v, want the interface MAC %v", l[0].Node(), seg.macs[0])
			}
			wire := sniff(t, seg.hosts[2], "eth0")
			tag := ft.String()
			uni := testPacket(t, seg.macs[0], seg.macs[1], "uni "+tag)
			bc := testPacket(t, seg.macs[0], ipx.NodeBroadcast, "bc "+tag)
			if err := l[0].WritePacket(uni, seg.macs[1]); err != nil {
				t.Fatal(err)
			}
			if err := l[0].WritePacket(bc, ipx.NodeBroadcast); err != nil {
				t.Fatal(err)
			}
			expectPacket(t, l[1], uni, seg.macs[0])
			expectPacket(t, l[1], bc, seg.macs[0])
			// Host 2 got the unicast flooded (the sniffer sees it) but its
			// Link skipped it: the broadcast is the first thing it reads.
			f := wire.expect("uni " + tag)
			if got, _, err := ipx.DetectFrame(f); err != nil || got != ft {
				t.Fatalf("unicast went out as %v (%v), want %v", got, err, ft)
			}
			if len(f) != ipx.EthernetMinFrame {
				t.Fatalf("unicast frame of %d bytes, want padding to %d", len(f), ipx.EthernetMinFrame)
			}
			expectPacket(t, l[2], bc, seg.macs[0])

			// And back, from the flooded-to host.
			back := testPacket(t, seg.macs[2], seg.macs[0], "back "+tag)
			if err := l[2].WritePacket(back, seg.macs[0]); err != nil {
				t.Fatal(err)
			}
			expectPacket(t, l[0], back, seg.macs[2])
			// A full-MTU packet crosses too.
			big := testPacket(t, seg.macs[1], seg.macs[0], strings.Repeat("x", l[1].MTU()-ipx.HeaderLen))
			if err := l[1].WritePacket(big, seg.macs[0]); err != nil {
				t.Fatal(err)
			}
			expectPacket(t, l[0], big, seg.macs[1])
			if s := l[0].Stats(); s.OwnFrames != 0 || s.Malformed != 0 {
				t.Fatalf("stats %+v: own frames or malformed ones reached Go", s)
			}
		})
	}
}

// TestNetnsLinkAuto puts an auto-mode Link among hosts fixed to 802.2 and
// SNAP: it must answer each in its own framing and broadcast Ethernet II.
func TestNetnsLinkAuto(t *testing.T) {
	seg := newSegment(t, true)
	l := seg.links(t, Config{}, Config{FrameType: ipx.Frame8022}, Config{FrameType: ipx.FrameSNAP})
	wire1 := sniff(t, seg.hosts[1], "eth0")
	a, b, c := seg.macs[0], seg.macs[1], seg.macs[2]

	// Unknown peer: Ethernet II, which host 1 (802.2) never returns.
	if err := l[0].WritePacket(testPacket(t, a, b, "before learning"), b); err != nil {
		t.Fatal(err)
	}
	if f := wire1.expect("before learning"); mustDetect(t, f) != ipx.FrameEthernetII {
		t.Fatalf("unknown peer sent %v, want Ethernet_II", mustDetect(t, f))
	}
	for _, peer := range []struct {
		i    int
		node ipx.Node
		ft   ipx.FrameType
	}{{1, b, ipx.Frame8022}, {2, c, ipx.FrameSNAP}} {
		hello := testPacket(t, peer.node, a, "hello from "+peer.ft.String())
		if err := l[peer.i].WritePacket(hello, a); err != nil {
			t.Fatal(err)
		}
		expectPacket(t, l[0], hello, peer.node)
		if ft, ok := l[0].PeerFrameType(peer.node); !ok || ft != peer.ft {
			t.Fatalf("learned %v, %v for %v; want %v", ft, ok, peer.node, peer.ft)
		}
		reply := testPacket(t, a, peer.node, "reply in "+peer.ft.String())
		if err := l[0].WritePacket(reply, peer.node); err != nil {
			t.Fatal(err)
		}
		// The fixed-framing peer returns only its own framing, so this
		// proves the reply's framing; the stale Ethernet II unicast above
		// must not come first.
		expectPacket(t, l[peer.i], reply, a)
	}
	// Broadcasts go out as Ethernet II; host 1 sees it on the wire but
	// its 802.2 Link does not return it.
	if err := l[0].WritePacket(testPacket(t, a, ipx.NodeBroadcast, "auto broadcast"), ipx.NodeBroadcast); err != nil {
		t.Fatal(err)
	}
	if f := wire1.expect("auto broadcast"); mustDetect(t, f) != ipx.FrameEthernetII {
		t.Fatalf("broadcast sent as %v, want Ethernet_II", mustDetect(t, f))
	}
	after := testPacket(t, a, b, "after broadcast")
	if err := l[0].WritePacket(after, b); err != nil {
		t.Fatal(err)
	}
	expectPacket(t, l[1], after, a)
	// A SNAP broadcast reaches the auto Link.
	sbc := testPacket(t, c, ipx.NodeBroadcast, "snap broadcast")
	if err := l[2].WritePacket(sbc, ipx.NodeBroadcast); err != nil {
		t.Fatal(err)
	}
	expectPacket(t, l[0], sbc, c)
}

func mustDetect(t testing.TB, f []byte) ipx.FrameType {
	t.Helper()
	ft, _, err := ipx.DetectFrame(f)
	if err != nil {
		t.Fatalf("frame % x: %v", f, err)
	}
	return ft
}

func TestNetnsLinkAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	seg := newSegment(t, false)
	cfg := Config{FrameType: ipx.FrameEthernetII}
	l := seg.links(t, cfg, cfg, cfg)
	a, b := seg.macs[0], seg.macs[1]
	pkt := testPacket(t, a, b, "allocs")
	buf := make([]byte, 2048)
	if err := l[0].WritePacket(pkt, b); err != nil {
		t.Fatal(err)
	}
	readNext(t, l[1])
	l[1].SetReadDeadline(time.Now().Add(ioTimeout))
	n := testing.AllocsPerRun(200, func() {
		if err := l[0].WritePacket(pkt, b); err != nil {
			t.Fatal(err)
		}
		if _, _, err := l[1].ReadPacket(buf); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per packet sent and received, want 0", n)
	}
}

func TestNetnsLinkClose(t *testing.T) {
	seg := newSegment(t, false)
	l := listenIn(t, seg.hosts[0], "eth0", Config{})
	done := make(chan error)
	go func() {
		_, _, err := l.ReadPacket(make([]byte, 2048))
		done <- err
	}()
	l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadPacket after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Close did not unblock ReadPacket")
	}
}

func TestNetnsListenErrors(t *testing.T) {
	tp := netnstest.New(t, "ipxe")
	ns := tp.Namespace("h")
	err := netnstest.In(t, ns, func() error {
		_, err := Listen("nosuch0", Config{})
		return err
	})
	if err == nil {
		t.Fatal("Listen on a missing interface succeeded")
	}
	// Loopback has an all-zero MAC: not a usable node.
	err = netnstest.In(t, ns, func() error {
		_, err := Listen("lo", Config{})
		return err
	})
	if !errors.Is(err, ipx.ErrBadAddr) {
		t.Fatalf("Listen on lo = %v, want ErrBadAddr", err)
	}
}

// TestNetnsLinkDownUpRemove checks that a Link survives its interface
// going down and up, on both the read and the write side, and that removing
// the interface ends ReadPacket with an error instead of a hang.
func TestNetnsLinkDownUpRemove(t *testing.T) {
	seg := newSegment(t, false)
	cfg := Config{FrameType: ipx.FrameEthernetII}
	l := seg.links(t, cfg, cfg, cfg)
	a, b := seg.macs[0], seg.macs[1]

	// Read side: a reader blocked across down and up gets the next packet.
	pkt := testPacket(t, b, a, "after up")
	done := make(chan error, 1)
	go func() {
		got, _ := make([]byte, 2048), error(nil)
		l[0].SetReadDeadline(time.Now().Add(ioTimeout))
		for {
			n, _, err := l[0].ReadPacket(got)
			if err != nil || bytes.Equal(got[:n], pkt) {
				done <- err
				return
			}
		}
	}()
	netnstest.IP(t, "-n", seg.hosts[0], "link", "set", "eth0", "down")
	netnstest.IP(t, "-n", seg.hosts[0], "link", "set", "eth0", "up")
	// The bridge port takes a moment to forward again: resend until the
	// reader has the packet.
	var err error
resend:
	for range 50 {
		if err := l[1].WritePacket(pkt, a); err != nil {
			t.Fatal(err)
		}
		select {
		case err = <-done:
			break resend
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		t.Fatalf("ReadPacket across down and up: %v", err)
	}
	if s := l[0].Stats(); s.ReadErrors == 0 {
		t.Errorf("stats %+v: the interface going down was not seen", s)
	}
	l[0].SetReadDeadline(time.Time{})

	// Write side: the first send after down and up works.
	netnstest.IP(t, "-n", seg.hosts[0], "link", "set", "eth0", "down")
	netnstest.IP(t, "-n", seg.hosts[0], "link", "set", "eth0", "up")
	if err := l[0].WritePacket(testPacket(t, a, b, "x"), b); err != nil {
		t.Fatalf("WritePacket after down and up: %v", err)
	}

	go func() {
		l[0].SetReadDeadline(time.Now().Add(ioTimeout))
		_, _, err := l[0].ReadPacket(make([]byte, 2048))
		done <- err
	}()
	netnstest.IP(t, "-n", seg.hosts[0], "link", "del", "eth0")
	err = <-done
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("ReadPacket still blocked after the interface was removed")
	}
	if !errors.Is(err, unix.ENODEV) {
		t.Fatalf("ReadPacket after removal = %v, want ENODEV", err)
	}
}

// TestNetnsListenPermission drops CAP_NET_RAW from the effective set of
// one locked thread (capabilities are per thread on Linux) and checks that
// Listen's error then matches os.ErrPermission, which callers and tests
// use to skip.
func TestNetnsListenPermission(t *testing.T) {
	tp := netnstest.New(t, "ipxe")
	ns := tp.Namespace("h")
	netnstest.IP(t, "-n", ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	netnstest.IP(t, "-n", ns, "link", "set", "d0", "address", mac(3, 0).HardwareAddr().String(), "up")
	err := netnstest.In(t, ns, func() error {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var caps, orig [2]unix.CapUserData
		if err := unix.Capget(&hdr, &caps[0]); err != nil {
			return err
		}
		orig = caps
		caps[0].Effective &^= 1 << unix.CAP_NET_RAW
		if err := unix.Capset(&hdr, &caps[0]); err != nil {
			return err
		}
		l, lerr := Listen("d0", Config{})
		if err := unix.Capset(&hdr, &orig[0]); err != nil {
			// In leaves the thread locked on failure; it then dies.
			t.Fatalf("restoring capabilities: %v", err)
		}
		if lerr == nil {
			l.Close()
		}
		return lerr
	})
	if !errors.Is(err, os.ErrPermission) {
		t.Fatalf("Listen without CAP_NET_RAW = %v, want os.ErrPermission", err)
	}
	// With the capability back, the same call works.
	l := listenIn(t, ns, "d0", Config{})
	if l.Node() != mac(3, 0) {
		t.Fatalf("Node = %v, want %v", l.Node(), mac(3, 0))
	}
}

// TestNetnsListenDownInterface opens a Link on an interface that is down
// and removes it: no ENETDOWN comes then, yet ReadPacket must end.
func TestNetnsListenDownInterface(t *testing.T) {
	tp := netnstest.New(t, "ipxe")
	ns := tp.Namespace("h")
	netnstest.IP(t, "-n", ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	netnstest.IP(t, "-n", ns, "link", "set", "d0", "address", mac(4, 0).HardwareAddr().String())
	netnstest.IP(t, "-n", ns, "link", "set", "d1", "address", mac(4, 1).HardwareAddr().String(), "up")
	l0 := listenIn(t, ns, "d0", Config{})
	done := make(chan error, 1)
	go func() {
		l0.SetReadDeadline(time.Now().Add(ioTimeout))
		_, _, err := l0.ReadPacket(make([]byte, 2048))
		done <- err
	}()
	netnstest.IP(t, "-n", ns, "link", "del", "d1") // takes d0 with it
	if err := <-done; !errors.Is(err, unix.ENODEV) {
		t.Fatalf("ReadPacket after removal of a down interface = %v, want ENODEV", err)
	}
}

// TestNetnsListenDownThenUp opens a Link on an interface that is down; it
// reads once the interface comes up.
func TestNetnsListenDownThenUp(t *testing.T) {
	tp := netnstest.New(t, "ipxe")
	ns := tp.Namespace("h")
	netnstest.IP(t, "-n", ns, "link", "add", "e0", "type", "veth", "peer", "name", "e1")
	netnstest.IP(t, "-n", ns, "link", "set", "e0", "address", mac(5, 0).HardwareAddr().String())
	netnstest.IP(t, "-n", ns, "link", "set", "e1", "address", mac(5, 1).HardwareAddr().String(), "up")
	l0 := listenIn(t, ns, "e0", Config{})
	l1 := listenIn(t, ns, "e1", Config{})
	netnstest.IP(t, "-n", ns, "link", "set", "e0", "up")
	waitReady(t, l0, l1)
	pkt := testPacket(t, mac(5, 1), mac(5, 0), "up now")
	if err := l1.WritePacket(pkt, mac(5, 0)); err != nil {
		t.Fatal(err)
	}
	expectPacket(t, l0, pkt, mac(5, 1))
}
