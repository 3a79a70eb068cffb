// Package ipx implements Novell's Internetwork Packet Exchange: addresses
// (network:node:socket), the 30-byte header and its checksum, the four
// Ethernet framings (Ethernet II, raw 802.3, 802.2 LLC, SNAP), gopacket
// layers, and a Stack that binds sockets and routes packets over Links.
//
// The wire format follows Novell's IPX Router Specification and Wireshark's
// packet-ipx.c dissector. All multi-byte fields are big-endian.
//
// Links that carry IPX live in subpackages: memlan (an in-memory segment
// with fault injection), udp (the DOSBox-compatible IPX-over-UDP tunnel) and
// ether (raw Ethernet on Linux).
//
// Close follows the standard library's rule everywhere in ipx and its
// links (Stack, Conn, InternalLink, memlan.Link, udp.Link, ether.Link):
// the first Close releases the resource and returns what that cost; every
// later Close does nothing and returns a *net.OpError wrapping
// net.ErrClosed, so errors.Is(err, net.ErrClosed) tells a repeated Close
// from a failed one.
//
// Codecs follow one aliasing rule: a decoded Packet's Payload aliases the
// input buffer, as gopacket's DecodingLayer contract does. Copy it if the
// buffer is reused.
package ipx
