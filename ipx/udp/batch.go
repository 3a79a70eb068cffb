package udp

import (
	"errors"
	"net"
	"net/netip"
)

// Batched datagram I/O. The tunnel moves every packet over two UDP hops,
// so a relayed packet costs four system calls (client write, server read
// and write, client read) where a direct UDP exchange costs two; on
// loopback those calls are nearly all of the time. Reading and writing
// several datagrams per call (recvmmsg and sendmmsg on Linux) amortises
// them over whatever has queued up, and costs nothing when one datagram
// at a time arrives.
//
// golang.org/x/net/ipv4's ReadBatch would do the reads but returns each
// sender as a new *net.UDPAddr (two allocations per datagram), and the
// packet path must not allocate; so the Linux version calls recvmmsg and
// sendmmsg itself, decoding senders into netip.AddrPort.

// msg is one datagram of a batch.
type msg struct {
	buf  []byte         // read: buffer to fill; write: buf[:n] is sent
	n    int            // read: datagram length (at most len(buf); longer ones are cut)
	addr netip.AddrPort // read: sender; write: destination
}

// batchConn reads and writes datagrams several at a time.
type batchConn interface {
	// readBatch blocks until at least one datagram arrives, fills
	// ms[:n] with up to len(ms) of them and returns n. n is 0 when err
	// is not nil.
	readBatch(ms []msg) (n int, err error)
	// writeBatch sends ms in order and returns how many were sent: all
	// of them, or fewer and the error that stopped ms[n] (err may be nil
	// if the system sent only part of the batch; retry the rest).
	writeBatch(ms []msg) (n int, err error)
}

// newBatchConn returns batched I/O for pc: recvmmsg and sendmmsg for an
// IPv4 *net.UDPConn on Linux, or one datagram per call over conn (pc's
// AddrPort methods or the ReadFrom/WriteTo adapter) for anything else.
// batched reports which.
func newBatchConn(pc net.PacketConn, conn addrPortConn) (bc batchConn, batched bool) {
	if uc, ok := pc.(*net.UDPConn); ok {
		if mc, err := newMmsgConn(uc); err == nil {
			return mc, true
		}
	}
	return singleConn{conn}, false
}

// singleConn is a batchConn that reads one datagram per call and writes a
// batch one datagram at a time.
type singleConn struct{ addrPortConn }

func (c singleConn) readBatch(ms []msg) (int, error) {
	n, from, err := c.ReadFromUDPAddrPort(ms[0].buf)
	if err != nil {
		return 0, err
	}
	ms[0].n, ms[0].addr = n, from
	return 1, nil
}

func (c singleConn) writeBatch(ms []msg) (int, error) {
	for i := range ms {
		if _, err := c.WriteToUDPAddrPort(ms[i].buf[:ms[i].n], ms[i].addr); err != nil {
			return i, err
		}
	}
	return len(ms), nil
}

// errNoMmsg reports a socket that newMmsgConn cannot use.
var errNoMmsg = errors.New("udp: no batched I/O for this socket")

// batchBudget bounds the read buffers of one batch (bytes), so that a
// large MaxPacketLen shrinks the batch instead of growing the memory.
const batchBudget = 512 << 10

// batchLen is how many datagrams of up to size bytes one read batch
// takes: at most limit, at least 1, within batchBudget.
func batchLen(size, limit int) int {
	return min(limit, max(1, batchBudget/size))
}

// newMsgs returns n msgs with buffers of size bytes, cut from one
// allocation.
func newMsgs(n, size int) []msg {
	ms := make([]msg, n)
	buf := make([]byte, n*size)
	for i := range ms {
		ms[i].buf = buf[i*size : (i+1)*size : (i+1)*size]
	}
	return ms
}
