package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/ipxkit/ipxkit/ipx"
)

// errDone stops reading once the -c limit is reached.
var errDone = errors.New("done")

// errTruncated reports a capture that ends inside a record.
var errTruncated = errors.New("capture truncated")

// dumper prints packets and counts what it skipped.
type dumper struct {
	w       io.Writer
	limit   int // stop after this many IPX packets; 0 = no limit
	printed int
	skipped int
	first   layers.LinkType // the capture's link type
	status  io.Writer       // where a live capture says it has begun, if not nil
	line    strings.Builder
}

// summary writes the closing line: what was printed and skipped, and
// whether the capture was cut short.
func (d *dumper) summary(w io.Writer, err error) {
	fmt.Fprintf(w, "ipxdump: %d IPX %s, %d other %s skipped", d.printed, plural(d.printed, "packet"), d.skipped, plural(d.skipped, "frame"))
	if errors.Is(err, errTruncated) {
		fmt.Fprintf(w, "; %v", err)
	}
	fmt.Fprintln(w)
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// packetSource is what pcapgo's pcap and pcapng readers have in common.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// firstLayer returns the layer a capture of link type lt starts with, if
// ipxdump reads it.
func firstLayer(lt layers.LinkType) (gopacket.LayerType, bool) {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, true
	case layers.LinkTypeRaw, layers.LinkTypeIPv4:
		return layers.LayerTypeIPv4, true
	case layers.LinkTypeIPv6:
		return layers.LayerTypeIPv6, true
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, true
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, true
	}
	return 0, false
}

// readFile dumps a pcap or pcapng file.
func (d *dumper) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, err := br.Peek(4)
	if err != nil {
		return fmt.Errorf("%s: not a capture file: %w", path, err)
	}
	var src packetSource
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		src, err = pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
	} else {
		src, err = pcapgo.NewReader(br)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	d.first = src.LinkType()
	if _, ok := firstLayer(d.first); !ok {
		return fmt.Errorf("%s: link type %v; ipxdump reads Ethernet, raw IP, Linux cooked and loopback captures", path, d.first)
	}
	for records := 0; ; records++ {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w after %d %s (%s ends inside a record)", errTruncated, records, plural(records, "record"), path)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := d.frame(ci.Timestamp, data); err != nil {
			if errors.Is(err, errDone) {
				return nil
			}
			return err
		}
	}
}

// frame prints one line for a frame that carries IPX, directly on
// Ethernet or in a UDP datagram, or counts one that does not. It returns
// errDone when the -c limit is reached.
func (d *dumper) frame(ts time.Time, data []byte) error {
	d.line.Reset()
	d.line.WriteString(ts.UTC().Format("15:04:05.000000"))
	switch {
	case d.first == layers.LinkTypeEthernet && isIPXFrame(data):
		d.ethernet(data)
	default:
		if !d.tunnel(data) {
			d.skipped++
			return nil
		}
	}
	d.line.WriteByte('\n')
	if _, err := io.WriteString(d.w, d.line.String()); err != nil {
		return err
	}
	d.printed++
	if d.limit > 0 && d.printed >= d.limit {
		return errDone
	}
	return nil
}

func isIPXFrame(data []byte) bool {
	_, _, err := ipx.DetectFrame(data)
	return err == nil
}

// ethernet describes an IPX frame on Ethernet.
func (d *dumper) ethernet(data []byte) {
	pkt := gopacket.NewPacket(data, ipx.LayerTypeEthernetIPX, gopacket.NoCopy)
	eth, _ := pkt.Layer(ipx.LayerTypeEthernetIPX).(*ipx.EthernetIPX)
	switch {
	case eth == nil:
		fmt.Fprintf(&d.line, " malformed frame: %v", errorOf(pkt))
	default:
		d.ipx(eth.Type.String(), pkt)
	}
}

// tunnel describes an IPX packet carried in UDP, as the DOSBox tunnel
// carries them on any port, and reports whether the frame was one.
func (d *dumper) tunnel(data []byte) bool {
	lt, _ := firstLayer(d.first)
	outer := gopacket.NewPacket(data, lt, gopacket.DecodeOptions{NoCopy: true, Lazy: true})
	u, _ := outer.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if u == nil || !looksLikeIPX(u.Payload) {
		return false
	}
	var from, to string
	switch ip := outer.NetworkLayer().(type) {
	case *layers.IPv4:
		from, to = ip.SrcIP.String(), ip.DstIP.String()
	case *layers.IPv6:
		from, to = "["+ip.SrcIP.String()+"]", "["+ip.DstIP.String()+"]"
	default:
		return false
	}
	pkt := gopacket.NewPacket(u.Payload, ipx.LayerTypeIPX, gopacket.NoCopy)
	d.ipx(fmt.Sprintf("UDP %s:%d > %s:%d", from, u.SrcPort, to, u.DstPort), pkt)
	return true
}

// looksLikeIPX reports whether a UDP payload is an IPX packet as the
// tunnel sends them: a whole header whose length field is the datagram's
// and whose checksum is off (0xFFFF), as DOSBox always sends.
func looksLikeIPX(p []byte) bool {
	var h ipx.Header
	return len(p) >= ipx.HeaderLen && h.UnmarshalBinary(p) == nil &&
		h.Checksum == ipx.ChecksumNone && int(h.Length) == len(p)
}

// ipx describes the IPX packet in pkt, which came by how.
func (d *dumper) ipx(how string, pkt gopacket.Packet) {
	x, _ := pkt.Layer(ipx.LayerTypeIPX).(*ipx.IPX)
	if x == nil {
		fmt.Fprintf(&d.line, " %s malformed IPX: %v", how, errorOf(pkt))
		return
	}
	h := &x.Header
	fmt.Fprintf(&d.line, " %s %v > %v: %s len %d hops %d", how, h.Src, h.Dst, protocol(h), h.Length, h.TransportControl)
	if h.Checksum != ipx.ChecksumNone {
		if x.VerifyChecksum() == nil {
			d.line.WriteString(" cksum ok")
		} else {
			fmt.Fprintf(&d.line, " cksum %#04x bad", h.Checksum)
		}
	}
	d.upper(pkt)
}

// protocol names what an IPX packet carries, chosen as NetWare and the
// ipx package's decoder choose: by socket first (RIP 0453, SAP 0452,
// whatever the packet type: a SAP query sent with type 0 is SAP), then
// by packet type.
func protocol(h *ipx.Header) string {
	switch {
	case h.Dst.Socket == ipx.SocketRIP:
		return "RIP"
	case h.Dst.Socket == ipx.SocketSAP:
		return "SAP"
	case h.Src.Socket == ipx.SocketRIP:
		return "RIP"
	case h.Src.Socket == ipx.SocketSAP:
		return "SAP"
	}
	return h.Type.String()
}

// upper appends the summary of the layer after IPX, if it has one.
func (d *dumper) upper(pkt gopacket.Packet) {
	ls := pkt.Layers()
	for i, l := range ls {
		if l.LayerType() != ipx.LayerTypeIPX || i+1 >= len(ls) {
			continue
		}
		next := ls[i+1]
		if s, ok := next.(ipx.Summarizer); ok {
			d.line.WriteString(": ")
			d.line.WriteString(s.Summary())
		} else if el, ok := next.(gopacket.ErrorLayer); ok {
			fmt.Fprintf(&d.line, ": [%v]", el.Error())
		}
		return
	}
}

func errorOf(pkt gopacket.Packet) error {
	if el := pkt.ErrorLayer(); el != nil {
		return el.Error()
	}
	return errors.New("no layer")
}
