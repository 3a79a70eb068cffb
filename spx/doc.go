// Package spx implements Novell's Sequenced Packet Exchange (SPX) and its
// successor SPX II over an ipx.Stack: reliable, ordered connections that
// implement net.Conn and net.Listener.
//
// # Wire format
//
// An SPX packet is an IPX packet of type 5 whose data starts with a 12-byte
// header (see Header): connection control flags, datastream type, source
// and destination connection ids, and the sequence, acknowledge and
// allocation numbers. An SPX II packet (flag 0x08) whose destination id is
// known carries a 2-byte negotiation size after those 12 bytes. The layout
// follows Novell's SPX Services Specification and Wireshark's packet-ipx.c.
//
// # Protocol
//
// Each data packet carries a 16-bit sequence number; system packets (flag
// 0x80: connect, acknowledgements, keep-alives) do not consume one. The
// acknowledge number is the next sequence number the receiver expects and
// the allocation number the last one it can accept, so a sender may have
// alloc − ack + 1 packets outstanding. All comparisons of these numbers wrap
// around (see seqLess). Lost packets are retransmitted after an adaptive
// timeout estimated in the style of RFC 6298, doubled on each expiry
// until an acknowledgement brings progress; after Config.RetryLimit
// timeouts for one packet the connection fails with ErrRetryLimit. A connection that hears nothing for Config.VerifyInterval
// sends a keep-alive asking for an acknowledgement, and is declared dead
// (ErrPeerSilent) after Config.AbortTimeout of silence.
//
// Closing sends an end-of-connection packet (datastream type 0xFE),
// answered by 0xFF, after the data written. Close waits, at most
// Config.Linger, for both to be acknowledged, and returns an error
// wrapping ErrNotDelivered if some of the data never was; Flush waits for
// the data alone without closing. When both ends speak SPX II, CloseWrite sends an orderly
// release (0xFC, answered by 0xFD): the peer reads io.EOF but may keep
// sending. SPX II ends also negotiate packets larger than the classic 576
// bytes: every SPX II packet carries the largest IPX packet its sender
// takes (its link's MTU, or Config.MaxPacket). Each end then sends one
// sequenced probe with the negotiate flag, padded to the smaller of the
// two sizes; if it is acknowledged whole, data packets grow to that size,
// and if it is lost twice (a router on the way takes less) it goes again
// empty and packets stay within 576 bytes. Dial returns once its probe
// has settled. With a plain SPX peer, packets stay within 576 bytes.
//
// Beyond Novell's SPX, a receiver keeps packets that arrive ahead of a
// gap (within its allocation) and acknowledges a gap, and its filling,
// at once with a system packet. A duplicate acknowledgement tells the
// sender that a later packet arrived; the oldest outstanding one is then
// taken as lost once it has been out a round trip plus a reordering
// window (RACK, RFC 8985, without the selective acknowledgements SPX
// lacks; see below for those ipxkit ends use between themselves), so a
// packet merely overtaken is not resent. A retransmission
// acknowledged sooner than a round trip after it was unneeded
// (Stats.SpuriousRetransmits): it widens the reordering window and
// undoes the window reduction it caused. Each partial acknowledgement
// then retransmits the next hole (as TCP's NewReno does), and when the
// acknowledgements stop, up to three tail probes (Stats.TailProbes)
// resend the oldest packet before the timeout. The sender also keeps a
// congestion window (Stats.Cwnd): the whole allocation until a loss,
// then halved by a repaired loss (cut by a fifth when the round trip
// shows no queue building: a random loss, as TCP Veno judges) or cut to
// one packet by a timeout, growing back as acknowledgements come (RFC
// 5681), so that a path that drops bursts is not flooded again at once.
// After a timeout everything outstanding is sent again as that window
// allows, so a burst of k losses costs about log2(k) round trips rather
// than k. The wire format is unchanged.
//
// # Selective acknowledgements (an ipxkit extension)
//
// Novell's SPX has no selective or negative acknowledgement (Wireshark's
// SPX dissector shows none), so without one the sender learns of one
// hole per round trip. Between two ipxkit SPX II ends that both announce
// it, acknowledgements also say which packets beyond a gap arrived, and
// every hole of a window is repaired in one round trip, as TCP's SACK
// (RFC 2018, RFC 6675) does.
//
// The announcement is the reserved control bit 0x02 (ControlSACK), set
// only in an SPX II connection request (by an end that takes selective
// acknowledgements) and in the reply to one that had it (by an end that
// takes them too); Config.NoSelectiveAcks and Config.PlainSPX leave it
// clear. Novell's specification and Wireshark's dissector call the bit
// reserved, and the dissector's summary ignores the low four bits, so a
// NetWare or other SPX peer sees a normal request or reply. Only once both
// ends announced it (Stats.SelectiveAcks) does a receiver holding
// packets ahead of a gap put up to four ranges of them in the data of
// its acknowledgements: system packets, which carry none otherwise and
// which a peer without the extension never receives with data:
//
//	0 kind 0x01   1 count n (1..4)   2 n × (first sequence number, next after the last), 2 bytes each
//
// The range holding the latest arrival goes first, then the lowest. The
// sender marks the packets covered (they are kept until the acknowledge
// number passes them: the receiver never discards what it buffered),
// takes each unmarked packet below the highest marked one as lost when a
// packet sent after it arrived and it has been out a round trip plus the
// reordering window (RACK, RFC 8985), and resends all the losses at once
// as the congestion window allows, counting against it only the packets
// in flight (sent, neither marked nor lost: RFC 6675's pipe). A recovery
// cuts the window once, however many losses it repairs. After a timeout
// every unmarked packet is taken as lost. Malformed payloads and ranges
// beyond what was sent are counted (Stats.BadSACKs) and ignored.
//
// # Structure
//
// The protocol core (type endpoint) is free of I/O: it takes packets and
// a clock it reads only when it needs the time, and returns packets to
// send, data to deliver and its next deadline. Conn wraps it with a mutex,
// one timer and the ipx.Conn it sends on. The Stack hands each socket's
// packets to a demultiplexer in the link's read goroutine
// (ipx.Stack.ListenFunc), which passes them to connections by connection
// id.
package spx
