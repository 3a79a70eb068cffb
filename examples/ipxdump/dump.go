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

// dumper prints frames and counts what it skipped.
type dumper struct {
	w       io.Writer
	limit   int // stop after this many IPX frames; 0 = no limit
	printed int
	skipped int
	line    strings.Builder
}

// packetSource is what pcapgo's pcap and pcapng readers have in common.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
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
	if lt := src.LinkType(); lt != layers.LinkTypeEthernet {
		return fmt.Errorf("%s: link type %v; ipxdump reads Ethernet captures", path, lt)
	}
	for {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return nil
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

// frame prints one line for an IPX frame, or counts a frame that carries
// no IPX. It returns errDone when the -c limit is reached.
func (d *dumper) frame(ts time.Time, data []byte) error {
	if _, _, err := ipx.DetectFrame(data); err != nil {
		d.skipped++
		return nil
	}
	d.line.Reset()
	d.line.WriteString(ts.UTC().Format("15:04:05.000000"))
	pkt := gopacket.NewPacket(data, ipx.LayerTypeEthernetIPX, gopacket.NoCopy)
	eth, _ := pkt.Layer(ipx.LayerTypeEthernetIPX).(*ipx.EthernetIPX)
	x, _ := pkt.Layer(ipx.LayerTypeIPX).(*ipx.IPX)
	switch {
	case eth == nil:
		fmt.Fprintf(&d.line, " malformed frame: %v", errorOf(pkt))
	case x == nil:
		fmt.Fprintf(&d.line, " %v malformed IPX: %v", eth.Type, errorOf(pkt))
	default:
		h := &x.Header
		fmt.Fprintf(&d.line, " %v %v > %v: %v len %d hops %d", eth.Type, h.Src, h.Dst, h.Type, h.Length, h.TransportControl)
		if h.Checksum != ipx.ChecksumNone {
			if x.VerifyChecksum() == nil {
				d.line.WriteString(" cksum ok")
			} else {
				fmt.Fprintf(&d.line, " cksum %#04x bad", h.Checksum)
			}
		}
		d.upper(pkt)
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
