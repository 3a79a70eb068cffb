package udp

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// Packets other DOSBox-protocol peers send, byte for byte. ipxbox
// (fragglet/ipxbox) builds its control packets from a zero header: the
// checksum and the length field stay 0, and its pings and ping answers
// come from socket 0. DOSBox never reads the length field: it takes the
// datagram's size.

// ipxboxHex decodes a header written as checksum, length, transport
// control and type, then destination and source network, node, socket.
func ipxboxHex(t testing.TB, parts ...string) []byte {
	t.Helper()
	var s string
	for _, p := range parts {
		s += p
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != ipx.HeaderLen {
		t.Fatalf("bad test header %q (%d bytes): %v", s, len(b), err)
	}
	return b
}

// ipxboxPing is ipxbox's keepalive ping (server/dosbox sendPing): to the
// broadcast node, socket 2, from node 02:ff:ff:ff:00:00 socket 0.
func ipxboxPing(t testing.TB) []byte {
	return ipxboxHex(t, "0000", "0000", "00", "00",
		"00000000", "ffffffffffff", "0002",
		"00000000", "02ffffff0000", "0000")
}

// ipxboxRegistration is ipxbox's client registration (client/dosbox
// sendRegistrationPacket): zero addresses, both sockets 2.
func ipxboxRegistration(t testing.TB) []byte {
	return ipxboxHex(t, "0000", "0000", "00", "00",
		"00000000", "000000000000", "0002",
		"00000000", "000000000000", "0002")
}

// ipxboxPingAnswer is ipxbox's client answering a ping from pinger
// (client/dosbox sendPingReply): to pinger socket 2, from self socket 0.
func ipxboxPingAnswer(t testing.TB, pinger, self ipx.Node) []byte {
	return ipxboxHex(t, "0000", "0000", "00", "00",
		"00000000", hex.EncodeToString(pinger[:]), "0002",
		"00000000", hex.EncodeToString(self[:]), "0000")
}

// TestLinkAnswersIPXBoxPing replays ipxbox's keepalive ping to a Link: it
// must be answered (to the pinger's node), not dropped as malformed.
func TestLinkAnswersIPXBoxPing(t *testing.T) {
	rec := &recorder{}
	self := mustNode(t, addrB)
	l := &Link{conn: rec, server: srvAddr, peer: srvAddr, node: self}
	if p, ok := l.input(ipxboxPing(t)); ok {
		t.Fatalf("ping delivered as data % x", p)
	}
	st := l.Stats()
	if st.PingsAnswered != 1 || st.DropMalformed != 0 {
		t.Fatalf("stats %+v, want the ping answered", st)
	}
	want := pingAnswer(ipx.Node{0x02, 0xff, 0xff, 0xff, 0, 0}, self)
	if len(rec.sent) != 1 || rec.sent[0].from != srvAddr || !bytes.Equal(rec.sent[0].b, want[:]) {
		t.Fatalf("sent %v, want answer % x to the server", rec.sent, want)
	}
}

// TestLinkIPXBoxServer runs a Link against a scripted ipxbox server: its
// registration reply, then a keepalive ping the Link must answer.
func TestLinkIPXBoxServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		srv := mn.listen("10.0.0.1:10000")
		defer srv.Close()
		clientAddr := netip.MustParseAddrPort("10.0.0.2:4000")
		assigned := ipx.Node{0x02, 0x11, 0x22, 0x33, 0x44, 0x55} // ipxbox assigns its own nodes
		go func() {
			buf := make([]byte, 1500)
			n, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil || n != ipx.HeaderLen || !isRegistration(buf[:n]) {
				return
			}
			// server/dosbox sendRegistrationReply: checksum FFFF, length
			// 30, source network 1, source node broadcast.
			reply := ipxboxHex(t, "ffff", "001e", "00", "00",
				"00000000", hex.EncodeToString(assigned[:]), "0002",
				"00000001", "ffffffffffff", "0002")
			srv.WriteToUDPAddrPort(reply, from)
		}()
		l, err := NewLink(t.Context(), mn.listen(clientAddr.String()), netip.MustParseAddrPort("10.0.0.1:10000"), Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if l.Node() != assigned {
			t.Fatalf("node %v, want %v", l.Node(), assigned)
		}
		go reader(l, nil)
		srv.WriteToUDPAddrPort(ipxboxPing(t), clientAddr)
		buf := make([]byte, 1500)
		srv.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("no answer to the ping: %v (link stats %+v)", err, l.Stats())
		}
		want := pingAnswer(ipx.Node{0x02, 0xff, 0xff, 0xff, 0, 0}, assigned)
		if !bytes.Equal(buf[:n], want[:]) {
			t.Fatalf("answer % x, want % x", buf[:n], want)
		}
		if st := l.Stats(); st.PingsAnswered != 1 || st.DropMalformed != 0 {
			t.Fatalf("link stats %+v", st)
		}
	})
}

// TestRelayIPXBoxClient registers ipxbox's client with the relay and
// has it answer the server's keepalive ping the way ipxbox does.
func TestRelayIPXBoxClient(t *testing.T) {
	r, rec := newTestRelay(t, ServerConfig{})
	r.handle(t0, addrA, ipxboxRegistration(t))
	got := rec.take()
	want := registrationReply(mustNode(t, addrA), 0, r.self)
	if len(got) != 1 || got[0].from != addrA || !bytes.Equal(got[0].b, want[:]) {
		t.Fatalf("sent %v, want reply % x (stats %+v)", got, want, r.st)
	}
	if r.st.Registrations != 1 || r.st.DropMalformed != 0 {
		t.Fatalf("stats %+v", r.st)
	}
	r.handle(t0, addrA, ipxboxPingAnswer(t, pingNode, mustNode(t, addrA)))
	if r.st.ToServer != 1 || r.st.DropMalformed != 0 || len(rec.take()) != 0 {
		t.Fatalf("ping answer: stats %+v", r.st)
	}
}

// TestRelayRegistrationIgnoresLength registers with length fields DOSBox
// does not look at.
func TestRelayRegistrationIgnoresLength(t *testing.T) {
	for _, length := range []uint16{0, 1, 29, 31, 0xffff} {
		r, rec := newTestRelay(t, ServerConfig{})
		reg := registration()
		reg[offLength], reg[offLength+1] = byte(length>>8), byte(length)
		r.handle(t0, addrA, reg[:])
		if got := rec.take(); len(got) != 1 || r.st.Registrations != 1 {
			t.Errorf("length %d: sent %v, stats %+v", length, got, r.st)
		}
	}
}
