package udp

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgMax bounds one recvmmsg or sendmmsg call (the kernel's UIO_MAXIOV
// is 1024).
const mmsgMax = 64

// Limits of one UDP segmentation offload (GSO) send: the kernel's
// UDP_MAX_SEGMENTS (64 before Linux 5.17), and a total below the 65507
// bytes of one UDP datagram.
const (
	gsoMaxSegments = 64
	gsoMaxBytes    = 65000
)

// mmsgConn does batched I/O with recvmmsg and sendmmsg through the
// socket's syscall.RawConn, so that the runtime poller still does the
// waiting and deadlines and Close work as on the *net.UDPConn. The read
// and the write side each keep their own headers, so one reader and one
// writer may run at once; each side is for one goroutine at a time.
//
// Writes also use UDP segmentation offload where the kernel has it
// (Linux 4.18): consecutive datagrams of one size to one destination go
// as one message with a UDP_SEGMENT control message, which the kernel
// passes through its stack once and cuts into the same datagrams at the
// end (on loopback, at the receiving socket). The receiver sees nothing
// different.
type mmsgConn struct {
	rc   syscall.RawConn
	r, w mmsgSide

	gso    bool                          // UDP_SEGMENT works (write side)
	groups [mmsgMax]int                  // datagrams in each write header
	cmsgs  [mmsgMax][cmsgSegmentLen]byte // their UDP_SEGMENT control messages
}

// cmsgSegmentLen holds a UDP_SEGMENT control message (a uint16 after
// the header, aligned): unix.CmsgSpace(2) or more.
const cmsgSegmentLen = unix.SizeofCmsghdr + 8

// mmsgSide is the state of one direction: headers, I/O vectors and
// socket addresses, reused by every call, and the call's outcome.
type mmsgSide struct {
	hs    [mmsgMax]unix.Mmsghdr
	iovs  [mmsgMax]unix.Iovec
	names [mmsgMax][unix.SizeofSockaddrInet4]byte
	n     int   // hs[:n] used by this call; then messages done
	errno error // the system call's error
	fn    func(fd uintptr) bool
}

// newMmsgConn returns batched I/O for uc, an AF_INET socket (the one kind
// of address a tunnel node holds; an AF_INET6 socket is left to the
// standard library, which also decodes IPv6 zones).
func newMmsgConn(uc *net.UDPConn) (*mmsgConn, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	domain, serr := 0, error(nil)
	if err := rc.Control(func(fd uintptr) {
		domain, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	if domain != unix.AF_INET {
		return nil, errNoMmsg
	}
	c := &mmsgConn{rc: rc}
	if err := rc.Control(func(fd uintptr) {
		_, err := unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT)
		c.gso = err == nil
	}); err != nil {
		return nil, err
	}
	c.r.fn = c.recv // bound once: a method value per call would allocate
	c.w.fn = c.send
	return c, nil
}

// prepareRead points the read headers at ms (at most mmsgMax of them).
func (c *mmsgConn) prepareRead(ms []msg) {
	s := &c.r
	s.n = min(len(ms), mmsgMax)
	s.errno = nil
	for i := range s.n {
		h, iov := &s.hs[i], &s.iovs[i]
		iov.Base = unsafe.SliceData(ms[i].buf)
		iov.SetLen(len(ms[i].buf))
		h.Hdr = unix.Msghdr{Name: &s.names[i][0], Namelen: unix.SizeofSockaddrInet4, Iov: iov}
		h.Hdr.SetIovlen(1)
		h.Len = 0
	}
}

// prepareWrite points the write headers at ms, as many as fit: one
// header per datagram, or with gso one per run of datagrams to one
// destination that are all of one size but the last, which may be
// shorter.
func (c *mmsgConn) prepareWrite(ms []msg, gso bool) {
	s := &c.w
	s.errno = nil
	nh, ni := 0, 0
	for i := 0; i < len(ms) && nh < mmsgMax && ni < mmsgMax; nh++ {
		size, total, j := ms[i].n, ms[i].n, i+1
		for gso && size > 0 && j < len(ms) && ni+j-i < mmsgMax && j-i < gsoMaxSegments &&
			ms[j].addr == ms[i].addr && ms[j].n <= size && total+ms[j].n <= gsoMaxBytes {
			total += ms[j].n
			j++
			if ms[j-1].n < size {
				break
			}
		}
		for k := i; k < j; k++ {
			iov := &s.iovs[ni+k-i]
			iov.Base = unsafe.SliceData(ms[k].buf)
			iov.SetLen(ms[k].n)
		}
		h := &s.hs[nh]
		h.Hdr = unix.Msghdr{Name: &s.names[nh][0], Namelen: unix.SizeofSockaddrInet4, Iov: &s.iovs[ni]}
		h.Hdr.SetIovlen(j - i)
		h.Len = 0
		putSockaddr4(&s.names[nh], ms[i].addr)
		if j-i > 1 {
			cm := &c.cmsgs[nh]
			*cm = [cmsgSegmentLen]byte{}
			ch := (*unix.Cmsghdr)(unsafe.Pointer(&cm[0]))
			ch.Level, ch.Type = unix.SOL_UDP, unix.UDP_SEGMENT
			ch.SetLen(unix.CmsgLen(2))
			binary.NativeEndian.PutUint16(cm[unix.CmsgLen(0):], uint16(size))
			h.Hdr.Control = &cm[0]
			h.Hdr.SetControllen(unix.CmsgSpace(2))
		}
		c.groups[nh] = j - i
		ni += j - i
		i = j
	}
	s.n = nh
}

func (c *mmsgConn) readBatch(ms []msg) (int, error) {
	s := &c.r
	c.prepareRead(ms)
	if err := c.rc.Read(s.fn); err != nil {
		return 0, unwrapOp(err)
	}
	if s.errno != nil {
		return 0, os.NewSyscallError("recvmmsg", s.errno)
	}
	for i := range s.n {
		ms[i].n = int(s.hs[i].Len)
		ms[i].addr = sockaddr4(s.names[i][:s.hs[i].Hdr.Namelen])
	}
	return s.n, nil
}

// recv runs recvmmsg when the poller says the socket is readable; false
// asks it to wait.
func (c *mmsgConn) recv(fd uintptr) bool {
	s := &c.r
	for {
		// MSG_WAITFORONE: return what has arrived once there is one.
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&s.hs[0])), uintptr(s.n), unix.MSG_WAITFORONE, 0, 0)
		switch e {
		case 0:
			s.n = int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		s.n, s.errno = 0, e
		return true
	}
}

func (c *mmsgConn) writeBatch(ms []msg) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	s := &c.w
	gso := c.gso
	for {
		c.prepareWrite(ms, gso)
		if err := c.rc.Write(s.fn); err != nil {
			return 0, unwrapOp(err)
		}
		if s.errno != nil {
			if gso && c.groups[0] > 1 {
				// The first run was refused: EIO where the device
				// cannot checksum segments (never again, then),
				// EINVAL where a datagram exceeds the path MTU, or
				// the destination's own error. Send the batch one
				// datagram a message; a real error shows again.
				c.gso = c.gso && s.errno != unix.EIO
				gso = false
				continue
			}
			return 0, os.NewSyscallError("sendmmsg", s.errno)
		}
		n := 0
		for _, g := range c.groups[:s.n] {
			n += g
		}
		return n, nil
	}
}

// send runs sendmmsg when the poller says the socket is writable. The
// kernel stops at the first message that fails; if it sent some before,
// it reports them and drops the error, and the caller's retry of the
// rest gets it.
func (c *mmsgConn) send(fd uintptr) bool {
	s := &c.w
	for {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.hs[0])), uintptr(s.n), 0, 0, 0)
		switch e {
		case 0:
			s.n = int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		s.n, s.errno = 0, e
		return true
	}
}

// unwrapOp strips the *net.OpError ("raw-read") the RawConn wraps poller
// errors (net.ErrClosed, os.ErrDeadlineExceeded) in, so that callers wrap
// them as read and write errors of their own.
func unwrapOp(err error) error {
	if oe, ok := err.(*net.OpError); ok {
		return oe.Err
	}
	return err
}

// putSockaddr4 writes ap as a struct sockaddr_in. An address that is not
// IPv4 is written as family 0, which the kernel refuses for that message
// alone (EAFNOSUPPORT or EINVAL).
func putSockaddr4(b *[unix.SizeofSockaddrInet4]byte, ap netip.AddrPort) {
	*b = [unix.SizeofSockaddrInet4]byte{}
	a := ap.Addr().Unmap()
	if !a.Is4() {
		return
	}
	binary.NativeEndian.PutUint16(b[0:], unix.AF_INET)
	binary.BigEndian.PutUint16(b[2:], ap.Port())
	a4 := a.As4()
	copy(b[4:8], a4[:])
}

// sockaddr4 decodes a struct sockaddr_in; the zero AddrPort for anything
// else.
func sockaddr4(b []byte) netip.AddrPort {
	if len(b) < 8 || binary.NativeEndian.Uint16(b) != unix.AF_INET {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:]))
}
