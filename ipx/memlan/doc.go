// Package memlan is an in-memory Ethernet-like segment that carries whole
// IPX packets between any number of nodes, with faults a test can inject
// and change at any time: loss, duplication, delay with jitter,
// reordering, partitions (who hears whom) and node crashes.
//
// A Segment is the wire; Attach puts a node on it and returns a *Link,
// which implements ipx.Link. WritePacket copies the packet and never
// retains it; a broadcast reaches every other node, a unicast only the
// named node, and a unicast to a node not on the segment is dropped
// silently, as on a real wire. A node never hears its own packets.
//
// # Impairments
//
// Impairments act on the sending side: a packet sent by a link is
// impaired with that link's own Impairments if SetImpairments was called
// on it, otherwise with the segment's (the per-link setting wins whole;
// the two are not combined). Each destination of a broadcast is impaired
// independently.
//
// # Determinism
//
// Every link owns a PCG random source seeded from the segment's seed and
// its node address, so the loss, duplication, delay and reorder draws of
// a sender replay exactly for the same sequence of WritePacket calls,
// however the goroutines interleave. Broadcast destinations are drawn in
// node-address order. Delayed packets are released in order of due time,
// ties in send order.
//
// # Time and testing/synctest
//
// Delays use the runtime timers (time.AfterFunc) and a reader blocked in
// ReadPacket waits on a sync.Cond, so a segment works inside a
// testing/synctest bubble with its fake clock, where a blocked reader is
// durably blocked. A segment used in a bubble must be created, and all its
// links attached and used, inside that same bubble.
//
// # Resources
//
// Each link has a bounded receive queue (Config.QueueLen packets) and a
// bounded number of delayed packets in flight towards it (also
// QueueLen); a packet that finds either full is dropped and counted as
// QueueFull. Without impairments, sending and receiving allocate nothing
// once a queue slot has been used.
package memlan
