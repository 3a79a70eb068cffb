package udp

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/internal/syncbuf"
	"github.com/ipxkit/ipxkit/ipx"
)

// These tests run the real DOSBox (Debian package dosbox, 0.74) headless
// with SDL's dummy video and audio drivers; it needs no display. Being
// real processes they use real time, with bounded waits.

// startDOSBox runs dosbox with IPX on and the given autoexec line, and
// kills it when the test ends. Its output is logged if the test fails.
func startDOSBox(t *testing.T, autoexec string) *syncbuf.Buffer {
	t.Helper()
	path, err := exec.LookPath("dosbox")
	if err != nil {
		t.Skip("dosbox not installed (Debian package dosbox); skipping DOSBox interop test")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "dosbox.conf")
	text := "[sdl]\nfullscreen=false\noutput=surface\n[mixer]\nnosound=true\n[ipx]\nipx=true\n[autoexec]\n" + autoexec + "\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "-conf", conf, "-noconsole")
	// HOME keeps dosbox from writing its default config into the real
	// home directory.
	cmd.Env = append(os.Environ(), "SDL_VIDEODRIVER=dummy", "SDL_AUDIODRIVER=dummy", "HOME="+dir)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dosbox: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("dosbox output:\n%s", out)
		}
	})
	return out
}

// freeUDPPort returns a UDP port that was free on every address a moment
// ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recvUntil reads from l until a packet equal to want arrives or d
// passes.
func recvUntil(t *testing.T, l *Link, want []byte, d time.Duration) {
	t.Helper()
	l.pc.SetReadDeadline(time.Now().Add(d))
	defer l.pc.SetReadDeadline(time.Time{})
	buf := make([]byte, MTU)
	for {
		n, _, err := l.ReadPacket(buf)
		if err != nil {
			t.Fatalf("link %v waiting for % x: %v", l.Node(), want, err)
		}
		if bytes.Equal(buf[:n], want) {
			return
		}
	}
}

// TestDOSBoxServer has two Links register with DOSBox's own server
// (ipxnet startserver) and exchange unicast and broadcast through it; a
// ping must be answered by DOSBox's own client and by the other Link.
func TestDOSBoxServer(t *testing.T) {
	port := freeUDPPort(t)
	startDOSBox(t, fmt.Sprintf("ipxnet startserver %d", port))
	server := fmt.Sprintf("127.0.0.1:%d", port)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	a, err := Dial(ctx, server, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Dial(ctx, server, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Node()[0] != 127 || b.Node()[0] != 127 || a.Node() == b.Node() || a.Network() != 0 {
		t.Fatalf("assigned nodes %v, %v (network %v)", a.Node(), b.Node(), a.Network())
	}

	uni := pkt(t, a.Node(), b.Node(), 0x4000, "unicast via dosbox")
	if err := a.WritePacket(uni, b.Node()); err != nil {
		t.Fatal(err)
	}
	recvUntil(t, b, uni, 5*time.Second)

	bc := pkt(t, b.Node(), ipx.NodeBroadcast, 0x4000, "broadcast via dosbox")
	if err := b.WritePacket(bc, ipx.NodeBroadcast); err != nil {
		t.Fatal(err)
	}
	recvUntil(t, a, bc, 5*time.Second)

	// Ping from a bare client: B answers in its ReadPacket, DOSBox's
	// own client (registered at startserver) answers too.
	go reader(b, nil)
	raw, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	srv := netip.MustParseAddrPort(server)
	reg := registration()
	raw.WriteToUDPAddrPort(reg[:], srv)
	buf := make([]byte, 1500)
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := raw.ReadFromUDPAddrPort(buf)
	if err != nil || n < ipx.HeaderLen {
		t.Fatalf("raw registration: %v", err)
	}
	self := dstNode(buf[:n])
	p := ping(self)
	raw.WriteToUDPAddrPort(p[:], srv)
	answers := map[ipx.Node]bool{}
	for len(answers) < 2 {
		n, _, err := raw.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("ping answers so far %v: %v", answers, err)
		}
		if n == ipx.HeaderLen && dstNode(buf[:n]) == self && dstSocket(buf[:n]) == controlSocket {
			answers[srcNode(buf[:n])] = true
		}
	}
	if !answers[b.Node()] {
		t.Errorf("answers from %v, none from link B %v", answers, b.Node())
	}
	delete(answers, b.Node())
	for n := range answers {
		if n == a.Node() || n[0] != 127 {
			t.Errorf("unexpected answer from %v; want DOSBox's own client", n)
		}
	}
}

// TestDOSBoxClient has DOSBox connect to our Server (ipxnet connect),
// then checks that it answers the server's keepalive pings and a Link's
// ping.
func TestDOSBoxClient(t *testing.T) {
	s, err := ListenServer("127.0.0.1:0", ServerConfig{Keepalive: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Close() })
	port := addrPortOf(s.Addr()).Port()
	startDOSBox(t, fmt.Sprintf("ipxnet connect 127.0.0.1 %d", port))

	waitFor(t, 30*time.Second, "DOSBox to register", func() bool { return len(s.Clients()) == 1 })
	dos := s.Clients()[0]
	if dos.Node[0] != 127 {
		t.Fatalf("DOSBox registered as %+v", dos)
	}
	// DOSBox answers the keepalive pings, addressed to the server.
	waitFor(t, 10*time.Second, "answers to keepalive pings", func() bool { return s.Stats().ToServer >= 2 })

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	l, err := Dial(ctx, s.Addr().String(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	before := s.Stats().Unicasts
	p := ping(l.Node())
	if err := l.WritePacket(p[:], ipx.NodeBroadcast); err != nil {
		t.Fatal(err)
	}
	// DOSBox's answer is a unicast to the Link, relayed by the server and
	// swallowed as control traffic by the Link.
	go reader(l, nil)
	waitFor(t, 10*time.Second, "DOSBox's answer to the Link's ping", func() bool {
		return s.Stats().Unicasts > before && l.Stats().Control >= 1
	})
	if st := s.Stats(); st.DropSpoofed != 0 || st.DropUnregistered != 0 {
		t.Errorf("server dropped DOSBox traffic: %+v", st)
	}
	// Idle DOSBox answers every keepalive: it outlives KeepaliveMisses
	// rounds of 200 ms.
	waitFor(t, 10*time.Second, "more keepalive rounds", func() bool { return s.Stats().PingsSent >= 8 })
	if st := s.Stats(); st.Unresponsive != 0 || !slices.ContainsFunc(s.Clients(), func(c ClientInfo) bool { return c.Addr == dos.Addr }) {
		t.Errorf("DOSBox dropped although it answers keepalives: %+v", st)
	}
}

// TestDOSBoxStacks runs two ipx.Stacks over DOSBox's own tunnel server
// and exchanges a datagram between their sockets.
func TestDOSBoxStacks(t *testing.T) {
	port := freeUDPPort(t)
	startDOSBox(t, fmt.Sprintf("ipxnet startserver %d", port))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conns := make([]*ipx.Conn, 2)
	for i := range conns {
		l, err := Dial(ctx, fmt.Sprintf("127.0.0.1:%d", port), Config{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := ipx.NewStack(ipx.StackConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if _, err := st.AddLink(l, l.Network()); err != nil {
			t.Fatal(err)
		}
		if conns[i], err = st.Listen(0); err != nil {
			t.Fatal(err)
		}
		conns[i].SetDeadline(time.Now().Add(10 * time.Second))
	}
	if _, err := conns[0].WriteTo([]byte("via dosbox"), conns[1].Addr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, MTU)
	n, from, err := conns[1].ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != "via dosbox" || from != conns[0].Addr() {
		t.Fatalf("got %q from %v, want %q from %v", buf[:n], from, "via dosbox", conns[0].Addr())
	}
}
