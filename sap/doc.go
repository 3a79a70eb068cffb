// Package sap implements Novell's Service Advertising Protocol on an IPX
// Stack: the wire codec and its gopacket layer, a service table, an
// Advertiser that advertises local services and answers queries, and a
// client that asks for services of a type or for the nearest one.
//
// SAP runs on IPX socket 0x0452 whatever the packet type (real traffic uses
// 0, 4 or 17). A message starts with a 2-byte operation: 1 general query,
// 2 general response, 3 nearest query, 4 nearest response. A query carries
// a 2-byte service type (0xFFFF asks for every type); a response carries up
// to 7 entries of 64 bytes:
//
//	0  service type (2)   2  name (48, NUL-terminated, NUL-padded)
//	50 network (4)        54 node (6)    60 socket (2)    62 hops (2)
//
// Servers broadcast their services every 60 s; entries not heard for 3
// minutes age out, and an entry advertised with 16 hops is going down. A
// nearest query is answered with one entry, the best by route ticks, then
// by hops, its hops increased by one.
//
// No neighbour can stall or lock out the others. The Advertiser's reader
// never sends: updates and answers go out from a bounded queue, PacketGap
// apart on each link, so a long answer does not make it deaf. A Table
// that is full is shared fairly between the neighbours that offer
// services (see TableConfig.MaxServices), and Table.Subscribe reports
// every change, with a count of those a slow subscriber missed.
//
// The layout follows Novell's IPX Router Specification and Wireshark's
// packet-ipx.c (the "ipxsap" dissector). All fields are big-endian.
//
// Aliasing: decoded names are copied into the fixed-size Name value, so a
// decoded Message keeps nothing of the input buffer except Raw, which
// aliases it for unknown operations.
package sap
