// Package ether carries IPX over raw Ethernet on Linux, using packet
// sockets (github.com/mdlayher/packet). A Link implements ipx.Link on one
// network interface.
//
// Framing: a Link sends in one of the four IPX framings (Ethernet II with
// EtherType 0x8137, Novell raw 802.3, 802.2 LLC with SAP 0xE0, SNAP with
// type 0x8137), or, in auto mode (Config.FrameType 0), answers each peer in
// the framing that peer last used and sends broadcasts and packets to
// unknown peers as Ethernet II. Every frame is padded to the 60-byte
// Ethernet minimum; on receive the IPX length field decides the packet's
// extent, since veth and some NICs deliver frames unpadded and the 802.3
// length field is not to be trusted.
//
// Receive filtering: the kernel delivers Ethernet II IPX on protocol
// 0x8137, raw 802.3 on ETH_P_802_3 and 802.2/SNAP on ETH_P_802_2, so the
// Link binds to the protocol its framing needs (ETH_P_ALL in auto mode)
// and attaches a classic BPF program that keeps only IPX frames addressed
// to this interface's MAC or to broadcast, and drops frames whose source is
// this interface, which is how the Link's own transmissions come back on
// ETH_P_ALL. The same checks run again in Go, so a Link built with New on
// any net.PacketConn behaves alike. A Linux bridge floods unknown unicast,
// so the destination check matters even on a switched segment.
//
// Two Links on the same interface share its MAC and so cannot hear each
// other; use one Link per interface. Opening a packet socket needs
// CAP_NET_RAW: Listen's error then matches os.ErrPermission.
package ether
