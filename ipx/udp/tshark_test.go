package udp

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/ipxkit/ipxkit/internal/tsharktest"
	"github.com/ipxkit/ipxkit/ipx"
)

// captured is one UDP datagram seen on a memNet.
type captured struct {
	from, to netip.AddrPort
	b        []byte
}

// captureTunnel runs a Server on port 213 and two Links on a memNet,
// with registration, unicast, broadcast, a ping and a keepalive, and
// returns every datagram in order.
func captureTunnel(t *testing.T) []captured {
	var (
		mu  sync.Mutex
		cap []captured
	)
	synctest.Test(t, func(t *testing.T) {
		mn := newMemNet()
		mn.drop = func(from, to netip.AddrPort, b []byte) bool {
			mu.Lock()
			cap = append(cap, captured{from, to, append([]byte(nil), b...)})
			mu.Unlock()
			return false
		}
		s, err := NewServer(mn.listen("10.0.0.1:213"), ServerConfig{Keepalive: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve()
		defer s.Close()
		a, err := NewLink(t.Context(), mn.listen("10.0.0.2:4000"), netip.MustParseAddrPort("10.0.0.1:213"), Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := NewLink(t.Context(), mn.listen("10.0.0.3:4001"), netip.MustParseAddrPort("10.0.0.1:213"), Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		go reader(a, nil)
		go reader(b, nil)
		a.WritePacket(pkt(t, a.Node(), b.Node(), 0x4000, "unicast"), b.Node())
		synctest.Wait()
		b.WritePacket(pkt(t, b.Node(), ipx.NodeBroadcast, 0x5555, "broadcast"), ipx.NodeBroadcast)
		synctest.Wait()
		p := ping(a.Node())
		a.WritePacket(p[:], ipx.NodeBroadcast)
		synctest.Wait()
		time.Sleep(31 * time.Second) // keepalive pings and their answers
		synctest.Wait()
	})
	return cap
}

// udpFrame wraps a datagram in Ethernet, IPv4 and UDP headers.
func udpFrame(t *testing.T, c captured) []byte {
	eth := &layers.Ethernet{
		SrcMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 1},
		DstMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 2},
		EthernetType: layers.EthernetTypeIPv4,
	}
	ip := &layers.IPv4{
		Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: c.from.Addr().AsSlice(), DstIP: c.to.Addr().AsSlice(),
	}
	udp := &layers.UDP{SrcPort: layers.UDPPort(c.from.Port()), DstPort: layers.UDPPort(c.to.Port())}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, eth, ip, udp, gopacket.Payload(c.b)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestTshark checks that Wireshark dissects what the Link and Server put
// on the wire (UDP port 213, which tshark decodes as IPX by default) as
// the IPX headers we meant.
func TestTshark(t *testing.T) {
	tsharktest.Require(t)
	caps := captureTunnel(t)
	kinds := map[string]bool{}
	var frames [][]byte
	for _, c := range caps {
		frames = append(frames, udpFrame(t, c))
		switch {
		case len(c.b) > ipx.HeaderLen:
			kinds["data"] = true
		case isRegistration(c.b):
			kinds["registration"] = true
		case isPing(c.b):
			kinds["ping"] = true
		default:
			kinds["reply or answer"] = true
		}
	}
	if len(kinds) != 4 {
		t.Fatalf("capture lacks some kinds of datagram: %v", kinds)
	}
	path := tsharktest.WritePcap(t, frames)
	fields := []string{"ipx.checksum", "ipx.len", "ipx.hops", "ipx.packet_type",
		"ipx.dst.net", "ipx.dst.node", "ipx.dst.socket", "ipx.src.net", "ipx.src.node", "ipx.src.socket", "data.len"}
	rows := tsharktest.Fields(t, path, []string{"-d", "udp.port==213,ipx"}, fields...)
	if len(rows) != len(caps) {
		t.Fatalf("tshark printed %d rows for %d frames", len(rows), len(caps))
	}
	for i, c := range caps {
		var h ipx.Header
		if err := h.UnmarshalBinary(c.b); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		dataLen := ""
		if n := len(c.b) - ipx.HeaderLen; n > 0 {
			dataLen = strconv.Itoa(n)
		}
		want := []string{
			fmt.Sprintf("0x%04x", h.Checksum), strconv.Itoa(int(h.Length)), strconv.Itoa(int(h.TransportControl)),
			fmt.Sprintf("0x%02x", uint8(h.Type)),
			"0x" + h.Dst.Net.String(), colons(h.Dst.Node), fmt.Sprintf("0x%04x", uint16(h.Dst.Socket)),
			"0x" + h.Src.Net.String(), colons(h.Src.Node), fmt.Sprintf("0x%04x", uint16(h.Src.Socket)),
			dataLen,
		}
		for j := range fields {
			if !strings.EqualFold(rows[i][j], want[j]) {
				t.Errorf("frame %d (%v -> %v) %s: tshark %q, want %q", i, c.from, c.to, fields[j], rows[i][j], want[j])
			}
		}
	}
}

func colons(n ipx.Node) string { return n.HardwareAddr().String() }
