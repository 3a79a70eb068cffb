// Package mirror runs a mirrored server pair in the manner of NetWare SFT
// III: two machines run the same deterministic server engine, one as
// primary and one as secondary, and when the primary fails the secondary
// takes over without clients losing an acknowledged request.
//
// # The pair
//
// The embedder supplies an Engine (apply an event, write and read its
// memory image) and runs a Server on each machine. Both servers' Stacks
// carry the engine's internal network on an ipx.InternalLink with the same
// number and node, added as shared (ipx.LinkConfig{Shared: true}) so that
// the servers' own traffic keeps their LAN addresses. Clients address
// requests to internal-network:node:socket and reach whichever server
// advertises the better route to that network by RIP:
//
//   - the mirrored primary advertises rip.SharedActive (one tick worse
//     than the best), so that a taking-over secondary can beat it even
//     though a crashed primary never withdraws its route;
//   - the secondary advertises rip.SharedStandby (withdrawn): it applies
//     every event and computes every reply, and sends none;
//   - a server that took over advertises rip.SharedTakingOver (the best)
//     for as long as it runs alone, and returns to SharedActive once a
//     secondary is mirrored again.
//
// # Requests
//
// A request is one IPX datagram and its reply one datagram from the same
// address, as NCP does (see Message for the layout). Each carries a
// client id and a request id. Bodies are at most MaxData (522) bytes, so
// that a request fits a classic 576-byte IPX packet.
//
// The primary gives each new request the next sequence number, applies it
// and sends it over the mirrored server link (MSL) to the secondary, in
// batches when many are waiting: while the secondary has four batches
// to acknowledge, the events ordered meanwhile wait for the oldest ack
// and go together (at most Config.MaxBatch); so do the requests already queued
// at the engine's socket, and those about to arrive from goroutines
// ready to run, which a mirrored primary lets run once before it sends a
// lone request (runtime.Gosched, which costs nothing when there are
// none: a fast MSL would otherwise carry one event per message under
// load). It replies once the secondary has
// acknowledged the event. A retried request (same client and request id)
// is applied once and answered again from a reply cache that is part of
// the mirrored state, bounded per client (Config.ReplyCacheDepth) and in
// clients (Config.MaxClients). While the primary runs alone, or while a
// joining secondary receives its image, it replies at once.
//
// # The MSL
//
// The MSL is any reliable stream: an SPX connection on a dedicated link
// or on the LAN, or TCP. It carries versioned frames, each authenticated
// with HMAC-SHA-256 under a key both servers share and a per-connection
// session key; a peer with another key, protocol version, internal
// network or engine version is refused at the handshake with a clear
// error on both sides. The primary sends heartbeats, events and its
// image; the secondary heartbeats and acknowledgements. A message out of
// order, from another epoch or failing its MAC is refused, never applied,
// and ends the connection. On SPX, set spx.Config.PiggybackAcks on both
// ends: every MSL message is answered at once, and the answer then
// carries SPX's acknowledgement, one packet fewer per request.
//
// # Failure
//
// The secondary concludes that the primary is down only when the MSL has
// been silent for Config.MSLTimeout and the primary does not answer a
// probe on the LAN within Config.ProbeTimeout. The probe is a datagram to
// the peer's LAN address at the engine's socket (KindProbe), answered
// with the peer's role and epoch, rather than an IPX ping: a primary that
// crashed and restarted at once answers pings, but as a secondary with
// nothing to serve, and must not hold the pair without a primary. (Each
// server also answers IPX pings, package ipx/echo, for operators.) It
// then logs the takeover at warn level, raises the epoch, advertises the
// internal network at rip.SharedTakingOver (a triggered RIP update on
// every link, which unmodified RIP listeners follow at once), sends every
// client it knows a RIP response for the network and a KindNotify
// datagram (a Client retries at once on it), and starts replying. A
// client that missed all of these switches at the next periodic RIP
// update at the latest, since the new primary keeps the winning metric.
//
// If the MSL fails but the primary still answers on the LAN, the servers
// are fine and the link is not: nothing is taken over. The secondary
// deactivates itself (RoleDeactivated), as SFT III does, and keeps trying
// to rejoin; the primary runs alone. A secondary that never completed an
// image never takes over: it has nothing to serve.
//
// With the defaults (100 ms heartbeat, 500 ms MSL timeout, 200 ms probe)
// a client sees a crashed primary replaced in well under a second.
//
// # Epochs
//
// Every takeover raises the epoch. Replies and notifications carry it; a
// Client ignores replies from an epoch older than one it has seen, a
// joining secondary never follows a primary with an older epoch than its
// own, and a primary that meets a peer with a newer epoch steps down.
//
// # Partitions, and the window without an arbiter
//
// The pair decides alone, as SFT III did, from two signals: the MSL and
// the LAN. When both fail between the servers at once (a full partition)
// while each still reaches some clients, each concludes the other is
// down: the secondary takes over under epoch e+1 once MSLTimeout plus
// ProbeTimeout have passed, and the old primary, running alone, goes on
// answering under epoch e. From the moment the secondary takes over
// until the two servers hear each other again (the old primary's next
// LAN probe or MSL dial that gets through, every 2 x RedialInterval and
// RedialInterval), both answer. When they meet, the newer epoch wins and
// the old primary steps down and takes the winner's image: the writes it
// acknowledged alone are lost, from the moment its MSL failed (MSLTimeout
// before the takeover's probe) until it stepped down; that span is the
// window. Clients that saw epoch e+1 ignore its replies, so the loss hits
// only clients that stayed on its side of the partition. Writes
// acknowledged before the partition, while mirrored, are never lost: the
// secondary held each before it was acknowledged. The simulation's
// checker (mirror/sim_test.go, relaxWindows) knows exactly this window:
// without an arbiter, isolate and isolatesec faults pass it.
//
// # The arbiter
//
// Config.Arbiter closes that window. An Arbiter grants each epoch once
// (package mirror/ipxarbiter is a small one over IPX; the nested module
// mirror/etcdarbiter uses etcd). With one:
//
//   - a primary that loses its secondary answers nothing, and holds the
//     replies waiting for the secondary's acks, until the arbiter grants
//     it epoch e+1; a denial makes it step down and rejoin;
//   - a secondary that finds the primary down takes over only once
//     granted the same epoch e+1; a denial makes it rejoin as a
//     secondary;
//   - a switchover first has the arbiter grant the secondary epoch e+1,
//     so that the old primary cannot claim it if the MSL fails mid-way;
//   - a server started as primary answers once granted an epoch.
//
// Put the arbiter where the clients are (on their LAN, or reached
// through it): a server cut off from the clients but not from the
// arbiter wins its claim and then serves nobody until its links return.
//
// Both sides of any partition ask for the same epoch, so exactly one
// goes on, and nobody answers alone without a grant; while mirrored, the
// arbiter is not asked (the primary's replies wait for the secondary's
// acks, which a secondary that took over no longer sends). The price:
// while the arbiter is unreachable, neither server can go on alone, so a
// failure of the MSL or of either server stops service until the arbiter
// answers again or the pair is mirrored again. A claim whose answer was
// lost and is never retried (the secondary came back first) may leave
// epoch e+1 granted to a server that never used it; the other server's
// next takeover claim for e+1 is then denied and it does not take over
// (safe, not live), until an operator restarts it.
//
// # Health, and no preemption
//
// Config.Health is the embedder's health check. A primary that fails it
// hands its role to a mirrored secondary whose own check passes (the
// secondary reports it in its heartbeats), exactly as Switchover does;
// otherwise it stays primary and logs why. A returning server always
// joins as secondary and stays so, as in SFT III: the role moves back
// only by a Switchover, a failed health check or a failure of the other
// server, never because the first primary is back.
//
// # Observing
//
// Server.Subscribe reports every role and peer change; Server.Status
// gives the role, epoch, peer state, the secondary's lag in events and
// time, and the last MSL message; Server.Stats the counters, which
// Server.Var exposes through expvar.
package mirror
