package ipx

// Link moves whole IPX packets (header included) on one segment. The
// Stack reads from a Link in one goroutine and writes to it from many, so
// WritePacket must be safe for concurrent use. Implementations live in the
// subpackages memlan (in-memory), udp (IPX over UDP) and ether (raw
// Ethernet).
type Link interface {
	// ReadPacket blocks until a packet arrives, copies it into b and
	// returns its length and the link-level sender (the previous hop,
	// which differs from the header's source node for routed packets). A
	// packet longer than b is truncated to len(b). It returns an error
	// only when the link can read no more: after Close, one wrapping
	// net.ErrClosed; transient faults are the link's to retry.
	ReadPacket(b []byte) (n int, from Node, err error)
	// WritePacket sends the encoded packet p to the link-level node dst,
	// or to every node for NodeBroadcast. It does not retain p.
	WritePacket(p []byte, dst Node) error
	// Node is this end's node address on the segment.
	Node() Node
	// MTU is the largest IPX packet, header included, the link carries.
	MTU() int
	// Close releases the link and unblocks ReadPacket. A second Close
	// should return a *net.OpError wrapping net.ErrClosed, as the links
	// of this module do; the Stack closes each link once.
	Close() error
}

// BatchWriter is a Link that sends several packets to one node for about
// the cost of one, as the UDP tunnel does with sendmmsg. The Stack uses it
// for Conn.WritePackets; other links get one WritePacket per packet.
type BatchWriter interface {
	// WritePackets sends the encoded packets ps, in order, to dst as
	// WritePacket would send each. It does not retain them. It returns
	// how many it took: all, or fewer and the error that stopped
	// ps[n].
	WritePackets(ps [][]byte, dst Node) (n int, err error)
}

// LinkID names one of a Stack's links. IDs start at 1 and are never
// reused, even after RemoveLink, so a stale ID finds no link rather than
// another one. The zero LinkID means "choose by routing".
type LinkID int
