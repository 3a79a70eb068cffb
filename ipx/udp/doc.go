// Package udp carries IPX over UDP, wire-compatible with the DOSBox IPX
// tunnel (DOSBox's IPXNET command and fragglet/ipxbox).
//
// Every UDP datagram holds one whole IPX packet, header included. Clients
// talk only to a server, which relays between them:
//
//   - Registration: a client sends a bare 30-byte IPX header (checksum
//     0xFFFF, length 30, every address zero, both sockets 2). The server
//     answers with a 30-byte header whose destination is network 0, node =
//     the client's IPv4 address and UDP port as seen by the server (4 + 2
//     bytes, network order), socket 2, and whose source is network 1,
//     node = the server's address and port, socket 2. The client takes the
//     destination node as its own IPX node.
//   - Relay: the server sends a packet whose destination node starts with
//     ff:ff:ff:ff to every registered client but the sender, and any other
//     packet to the client whose IP:port the destination node names. The
//     destination network is not looked at.
//   - Ping: a header-only packet to node ff:ff:ff:ff:ff:ff socket 2 is a
//     ping. The server relays it like any broadcast and every client
//     answers it with a header-only packet to the pinger's node, socket 2.
//   - Length: DOSBox takes a packet's size from the datagram and never
//     reads the length field; ipxbox leaves it (and the checksum) 0 in
//     its registrations, pings and ping answers, which come from socket
//     0. Both ends here accept a bare 30-byte header with length 0, and
//     the Server accepts a registration whatever its length field says.
//
// DOSBox's server (src/hardware/ipxserver.cpp) holds 16 clients, never
// forgets one, relays from anyone and does not answer pings itself (its
// clients do). The Server here holds more (ServerConfig.MaxClients),
// admits new clients at a bounded rate, pings idle and silent clients the
// way ipxbox does so that live ones stay, drops clients that leave a few
// pings unanswered (ServerConfig.KeepaliveMisses), answers a
// client's ping itself as well as relaying it, and drops packets from
// unregistered senders and packets whose IPX source node is not the
// sender's own address, so that no client can pose as another or have
// traffic sent to a third party. (A sender that forges its UDP source
// address is beyond what this protocol can detect.) With
// ServerConfig.Route set the Server also routes, for routers and
// mirrored pairs on the tunnel: a unicast to a node no client has goes to
// the next hop the route lookup names, and the source check is off, since
// routed packets carry other hosts' addresses.
//
// Link is the client side and implements ipx.Link, so an ipx.Stack can run
// over the tunnel. DOSBox receives datagrams of up to 1424 bytes
// (IPXBUFFERSIZE), which is the Link's MTU.
package udp
