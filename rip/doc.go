// Package rip implements Novell's IPX Routing Information Protocol: the
// packet codec and its gopacket layer, a routing table that serves as the
// ipx.Stack's route source, a router that keeps the table by talking RIP
// on every link of a Stack, and a subscription to changes of best route.
//
// # Wire format
//
// RIP rides in IPX packets of type 1 on socket 0x0453. After the IPX
// header comes a 2-byte operation (1 request, 2 response) and up to 50
// entries of 8 bytes: network (4), hops (2), ticks (2), all big-endian. A
// request for network 0xFFFFFFFF asks for every route; requests carry
// 0xFFFF in hops and ticks. Sixteen hops mean unreachable. Ticks are 1/18 s.
// The format follows Novell's IPX Router Specification and Wireshark's
// packet-ipx.c.
//
// # Metrics
//
// A router advertises each route with the metric a listener on that link
// would see: one hop and one tick more than its own (a directly connected
// network goes out as 1 hop, 1 tick). The table stores what it heard, so
// a stored route's Hops counts the routers between this node and the
// network. The best route has the fewest ticks, then the fewest hops.
//
// # Protocol
//
// A Router broadcasts its table on every link every minute, with split
// horizon: routes are not advertised back on the link they were learned
// from. Changes go out at once as triggered updates, between the packets
// of any update under way; no two packets leave on one link less than
// 55 ms apart. A route that disappears is advertised at 16 hops before it
// is removed. Learned routes age out after three minutes of silence.
// While a lost route is advertised at 16 hops, offers worse than it are
// held down, so stale copies echoed around a loop cannot count to
// infinity; offers as good are taken at once. At start the router asks
// for all routes instead of waiting for the next broadcasts. In
// listener-only mode it learns but never advertises or answers, as a
// workstation does.
//
// The router follows the Stack's links as they come, go and fail, and
// stops when the Stack closes. On Close it advertises all its routes at
// 16 hops, within a bound the caller sets (Config.CloseTimeout, or the
// context of CloseContext). Its table is the Stack's route source,
// followed by the embedder's Config.Routes. Its protocol logic is a core
// free of I/O and of the clock (core.go), as sap's; the Router around it
// owns the socket, the goroutines and the timer.
//
// The table holds at most TableConfig.MaxRoutes learned routes, and at
// most MaxPerNeighbour through any one neighbour, so that one node
// announcing more networks than the table holds cannot lock the others
// out; what is refused is counted by neighbour (TableStats.RefusedFrom).
//
// An unsolicited response that offers a better route, or the current next
// hop announcing 16 hops, changes the best route immediately; Table.Subscribe
// reports each such change. A subscriber that falls behind loses events
// rather than stall routing; the next event it gets says how many it
// missed (Event.Missed), and Table.Routes gives it the whole table again.
//
// # Shared networks
//
// Two servers that share an internal network (a mirrored pair) choose
// which of them attracts its traffic with Router.SetShared, in one of
// three states (SharedState), and a standby starts withdrawn with
// Config.Shared, before its first packet. The states follow from how a
// listener picks a route: it switches only to a strictly better offer, or
// when its current next hop itself changes the metric; and a server that
// crashes never withdraws its route, which stays until it ages out three
// minutes later. So:
//
//   - SharedActive advertises the network one tick worse than a directly
//     connected network normally is (1 hop, 2 ticks on the wire), so that
//     there is a better metric left for a takeover.
//   - SharedTakingOver advertises the best metric (1 hop, 1 tick): every
//     listener switches to it at once, even while the crashed server's
//     offer has not aged out. A server running alone after a takeover
//     stays in it; once mirrored again it returns to SharedActive, which
//     listeners accept because it is their current next hop's own word.
//   - SharedStandby withdraws the network: 16 hops, never reachable. It
//     must not advertise a worse metric instead: its Stack delivers the
//     packets of a connected network locally, so any listener that chose
//     it (a new one, or one that lost the active server's route) would
//     send to the copy that does not serve.
//
// Router.Announce sends the current metrics of chosen networks to one
// address, so a new active server can tell the clients it knows at once.
package rip
