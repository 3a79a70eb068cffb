//go:build linux

package spx

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/internal/netnstest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/ether"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// The lossy-link comparison with Linux TCP runs only when asked, as root:
//
//	go test -run TestNetemVsTCP -v ./spx/ -args -netem
//
// Two namespaces, A and B, are joined through a third, M, by veth
// pairs. The link delays each frame 1 ms each way and drops a share of
// them; 1 % are reordered (sent without the delay, as netem's reorder
// does, so they overtake up to a millisecond of frames). With the
// kernel's netem qdisc that is `tc qdisc add dev eth0 root netem delay
// 1ms loss X% reorder 1%` on both A's and B's interface, M bridging;
// kernels built without netem get the same impairments from a relay in
// M (-netem.relay forces it), which forwards every frame, IPX or IP,
// alike. SPX runs over the raw Ethernet link (ipx/ether), TCP between
// the same namespaces, one after the other.
var (
	netemRun   = flag.Bool("netem", false, "run the SPX against TCP comparison on lossy veth links (root only)")
	netemRelay = flag.Bool("netem.relay", false, "impair the link with the user-space relay even where the kernel has netem")
	netemSize  = flag.Int("netem.size", 8<<20, "bytes moved per transfer in the netem comparison")
	netemRuns  = flag.Int("netem.runs", 1, "transfers of each kind per setting in the netem comparison; the table gives medians")
)

// netemSetting is one row of the comparison.
type netemSetting struct {
	loss, reorder float64 // fractions
}

func TestNetemVsTCP(t *testing.T) {
	if !*netemRun {
		t.Skip("the SPX against TCP comparison on lossy links runs with -args -netem (as root)")
	}
	netnstest.Require(t)
	// The clean link first: the ceiling the relay (or netem) and the CPU allow.
	settings := []netemSetting{{0, 0}, {0.01, 0.01}, {0.05, 0.01}, {0.10, 0.01}}
	relay := *netemRelay || !kernelHasNetem(t)
	how := "netem qdisc"
	if relay {
		how = "user-space relay (the kernel has no netem)"
	}
	t.Logf("impairments by %s; %d bytes per transfer", how, *netemSize)
	var rows []string
	for _, st := range settings {
		name := fmt.Sprintf("loss%g%%", st.loss*100)
		t.Run(name, func(t *testing.T) {
			n := newNetemNet(t, st, relay)
			// Interleaved, so that the machine's load falls on all three
			// alike: TCP, SPX with selective acknowledgements, without.
			var tcps, spxs, plains []float64
			for range max(*netemRuns, 1) {
				tcps = append(tcps, n.tcpGoodput(t, *netemSize))
				plains = append(plains, n.spxGoodput(t, *netemSize, true))
				spxs = append(spxs, n.spxGoodput(t, *netemSize, false))
			}
			tcp, spx, plain := median(tcps), median(spxs), median(plains)
			rows = append(rows, fmt.Sprintf("| %g %% | %g %% | %.1f | %.1f | %.1f | %.2f× | %.2f× |",
				st.loss*100, st.reorder*100, plain, spx, tcp, plain/tcp, spx/tcp))
			t.Logf("SPX %.1f Mbit/s (without SACK %.1f), TCP %.1f Mbit/s: %.2f× (%.2f×); runs %v %v %v",
				spx, plain, tcp, spx/tcp, plain/tcp, spxs, plains, tcps)
			if spx < tcp/2 {
				t.Logf("below the 0.5× target")
			}
		})
	}
	t.Logf("\n| loss | reorder | SPX without SACK, Mbit/s | SPX with SACK | TCP | without / TCP | with / TCP |\n|---|---|---|---|---|---|---|\n%s", strings.Join(rows, "\n"))
}

// median returns the median of v (the mean of the middle two if even).
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// kernelHasNetem reports whether a netem qdisc can be added, trying it
// on a veth pair in a namespace of its own.
func kernelHasNetem(t *testing.T) bool {
	tp := netnstest.New(t, "spxnq")
	ns := tp.Namespace("p")
	netnstest.IP(t, "-n", ns, "link", "add", "q0", "type", "veth", "peer", "name", "q1")
	err := exec.Command("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "q0", "root", "netem", "delay", "1ms").Run()
	return err == nil
}

// netemNet is the A–M–B topology.
type netemNet struct {
	nsA, nsB   string
	macA, macB net.HardwareAddr
	ipA, ipB   string
}

func newNetemNet(t *testing.T, st netemSetting, relay bool) *netemNet {
	n := &netemNet{
		macA: net.HardwareAddr{0x02, 0, 0, 0, 0x51, 0x0a},
		macB: net.HardwareAddr{0x02, 0, 0, 0, 0x51, 0x0b},
		ipA:  "10.251.0.1", ipB: "10.251.0.2",
	}
	tp := netnstest.New(t, "spxnm")
	n.nsA, n.nsB = tp.Namespace("a"), tp.Namespace("b")
	nsM := tp.Namespace("m")
	netnstest.Veth(t, netnstest.End{NS: n.nsA, Name: "eth0", MAC: n.macA}, netnstest.End{NS: nsM, Name: "m0"})
	netnstest.Veth(t, netnstest.End{NS: n.nsB, Name: "eth0", MAC: n.macB}, netnstest.End{NS: nsM, Name: "m1"})
	for _, x := range []struct{ ns, ip string }{{n.nsA, n.ipA}, {n.nsB, n.ipB}} {
		netnstest.IP(t, "-n", x.ns, "addr", "add", x.ip+"/24", "dev", "eth0")
		// One frame per packet on the wire, as a real link has: TCP's
		// segmentation offload would otherwise hand the relay 64 KB
		// frames, and netem would drop or delay 44 segments as one.
		netnstest.IP(t, "-n", x.ns, "link", "set", "eth0", "gso_max_segs", "1", "gso_max_size", "1500")
	}
	if !relay {
		netnstest.IP(t, "-n", nsM, "link", "add", "br0", "type", "bridge", "stp_state", "0")
		for _, p := range []string{"m0", "m1"} {
			netnstest.IP(t, "-n", nsM, "link", "set", p, "master", "br0")
		}
		netnstest.IP(t, "-n", nsM, "link", "set", "br0", "up")
		for _, ns := range []string{n.nsA, n.nsB} {
			args := []string{"netns", "exec", ns, "tc", "qdisc", "add", "dev", "eth0", "root", "netem",
				"delay", "1ms", "loss", fmt.Sprintf("%g%%", st.loss*100), "reorder", fmt.Sprintf("%g%%", st.reorder*100), "limit", "10000"}
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		return n
	}
	startRelay(t, nsM, st, n.macA, n.macB)
	return n
}

// tcpGoodput moves size bytes from A to B over TCP and returns the
// goodput in Mbit/s, from the first write to the receiver's end of file.
func (n *netemNet) tcpGoodput(t *testing.T, size int) float64 {
	var ln net.Listener
	netnstest.MustIn(t, n.nsB, func() (err error) {
		ln, err = net.Listen("tcp", n.ipB+":7777")
		return err
	})
	defer ln.Close()
	var c net.Conn
	netnstest.MustIn(t, n.nsA, func() (err error) {
		c, err = net.DialTimeout("tcp", n.ipB+":7777", 10*time.Second)
		return err
	})
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return transferGoodput(t, c, s, size, func() {
		tc, ok := c.(*net.TCPConn)
		if !ok {
			return
		}
		rc, err := tc.SyscallConn()
		if err != nil {
			return
		}
		rc.Control(func(fd uintptr) {
			if ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				t.Logf("TCP sender: rtt %dus (min %dus), cwnd %d, ssthresh %d, retransmitted %d, reordering %d, segments out %d",
					ti.Rtt, ti.Min_rtt, ti.Snd_cwnd, ti.Snd_ssthresh, ti.Total_retrans, ti.Reordering, ti.Segs_out)
			}
		})
	})
}

// spxGoodput moves size bytes from A to B over SPX II on ipx/ether,
// without selective acknowledgements if noSACK.
func (n *netemNet) spxGoodput(t *testing.T, size int, noSACK bool) float64 {
	const network ipx.Network = 0x51
	stack := func(ns string) *ipx.Stack {
		var l *ether.Link
		netnstest.MustIn(t, ns, func() (err error) {
			l, err = ether.Listen("eth0", ether.Config{})
			return err
		})
		s, err := ipx.NewStack(ipx.StackConfig{QueueLen: 4096})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if _, err := s.AddLink(l, network); err != nil {
			t.Fatal(err)
		}
		return s
	}
	sa, sb := stack(n.nsA), stack(n.nsB)
	// Closed when done: the next transfer's stacks share the links.
	defer sa.Close()
	defer sb.Close()
	cfg := Config{Window: 256, Linger: time.Minute, NoSelectiveAcks: noSACK}
	ln, err := ListenConfig(sb, 0x5151, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var nodeB ipx.Node
	copy(nodeB[:], n.macB)
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := ln.AcceptSPX()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	c, err := DialConfig(ctx, sa, ipx.Addr{Net: network, Node: nodeB, Socket: 0x5151}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.FailNow()
	}
	g := transferGoodput(t, c, s, size, nil)
	st := c.Stats()
	t.Logf("SPX sender (SACK %v): srtt %v, cwnd %d, retransmits %d (fast %d, spurious %d, probes %d, timeouts %d), packets out %d",
		st.SelectiveAcks, st.SRTT, st.Cwnd, st.Retransmits, st.FastRetransmits, st.SpuriousRetransmits, st.TailProbes, st.Timeouts, st.PacketsSent)
	return g
}

// transferGoodput writes size bytes on c and closes it, reads them all
// on s, and returns Mbit/s from the start to the end of file. written,
// if not nil, runs after the last write and before the close.
func transferGoodput(t *testing.T, c, s net.Conn, size int, written func()) float64 {
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		if _, err := c.Write(data); err != nil {
			errc <- err
			return
		}
		if written != nil {
			written()
		}
		errc <- c.Close()
	}()
	s.SetReadDeadline(time.Now().Add(5 * time.Minute))
	got, err := io.ReadAll(s)
	el := time.Since(start)
	s.Close()
	if werr := <-errc; werr != nil && !errors.Is(werr, net.ErrClosed) {
		t.Fatalf("write and close: %v", werr)
	}
	if err != nil {
		t.Fatalf("read: %v after %d bytes", err, len(got))
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, want %d, or they differ", len(got), size)
	}
	return float64(size) * 8 / el.Seconds() / 1e6
}

// relayStats count what the relay did.
type relayStats struct {
	mu                                     sync.Mutex
	forwarded, lost, reordered, overflowed int
}

// startRelay forwards frames between m0 and m1 in namespace ns as netem
// would on each direction: lost with probability st.loss, else sent
// without delay with probability st.reorder, else delayed 1 ms, at most
// 10,000 frames held. Frames are told apart by their source address,
// so the relay never forwards its own.
func startRelay(t *testing.T, ns string, st netemSetting, macA, macB net.HardwareAddr) {
	open := func(name string) *packet.Conn {
		var c *packet.Conn
		netnstest.MustIn(t, ns, func() error {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				return err
			}
			c, err = packet.Listen(ifi, packet.Raw, 0x0003, nil) // ETH_P_ALL
			if err != nil {
				return err
			}
			return c.SetPromiscuous(true)
		})
		return c
	}
	m0, m1 := open("m0"), open("m1")
	rs := &relayStats{}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		m0.Close()
		m1.Close()
		wg.Wait()
		rs.mu.Lock()
		defer rs.mu.Unlock()
		t.Logf("relay: %d forwarded, %d lost, %d reordered, %d dropped on overflow", rs.forwarded, rs.lost, rs.reordered, rs.overflowed)
	})
	pump := func(in, out *packet.Conn, from, to net.HardwareAddr, seed uint64) {
		type held struct {
			at    time.Time
			frame []byte
		}
		line := make(chan held, 10000)
		dst := &packet.Addr{HardwareAddr: to}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for h := range line {
				if d := time.Until(h.at); d > 0 {
					time.Sleep(d)
				}
				out.WriteTo(h.frame, dst)
			}
		}()
		go func() {
			defer wg.Done()
			defer close(line)
			rng := rand.New(rand.NewPCG(seed, 9))
			buf := make([]byte, 1<<16)
			for {
				n, _, err := in.ReadFrom(buf)
				if err != nil {
					return
				}
				if n < 14 || !bytes.Equal(buf[6:12], from) {
					continue
				}
				fixTCPChecksum(buf[:n])
				rs.mu.Lock()
				switch {
				case rng.Float64() < st.loss:
					rs.lost++
					rs.mu.Unlock()
					continue
				case rng.Float64() < st.reorder:
					rs.reordered++
					rs.forwarded++
					rs.mu.Unlock()
					out.WriteTo(buf[:n], dst)
					continue
				}
				rs.forwarded++
				rs.mu.Unlock()
				select {
				case line <- held{time.Now().Add(time.Millisecond), bytes.Clone(buf[:n])}:
				default:
					rs.mu.Lock()
					rs.overflowed++
					rs.mu.Unlock()
				}
			}
		}()
	}
	pump(m0, m1, macA, macB, 1)
	pump(m1, m0, macB, macA, 2)
}

// fixTCPChecksum fills in the TCP checksum of an IPv4 frame. The sender's
// veth leaves it to "hardware" (checksum offload), which the relay's
// packet socket is not; the receiving veth would drop the frame.
func fixTCPChecksum(f []byte) {
	if len(f) < 14+20 || f[12] != 0x08 || f[13] != 0x00 {
		return
	}
	ip := f[14:]
	ihl := int(ip[0]&0x0f) * 4
	total := int(ip[2])<<8 | int(ip[3])
	if ip[9] != 6 || ihl < 20 || total > len(ip) || total < ihl+20 {
		return
	}
	seg := ip[ihl:total]
	seg[16], seg[17] = 0, 0
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(ip[12:20]) // source and destination addresses
	sum += 6 + uint32(len(seg))
	add(seg)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	c := ^uint16(sum)
	seg[16], seg[17] = byte(c>>8), byte(c)
}
