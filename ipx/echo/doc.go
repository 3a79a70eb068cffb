// Package echo implements Novell's IPX Ping, the echo protocol of
// IPXPING.NLM and of Cisco's "ipx ping-default novell": a Message codec, a
// Responder that answers requests on a Conn, and a Client that sends them
// and measures round-trip times.
//
// The protocol, from the NLSP specification's IPX Ping packet as Wireshark
// (packet-ipx.c, socket 0x9086 "Novell PING") and other implementations
// (ipx_wrap's ipxw_ping, HP's ipxping(1M) manual page) describe it: a
// request goes to socket 0x9086 with packet type 4; its data starts with
// a 10-byte ping header
//
//	0 signature "Ping" (4)   4 version, 1 (1)   5 type: 0 request, 1 reply (1)
//	6 ping id (2)            8 result (1)       9 reserved (1)
//
// followed by any padding the sender chooses (ipxping's default packet is
// 56 bytes, header included). The responder answers the source address
// with the same packet type, id and padding, type 1 and result 1.
package echo
