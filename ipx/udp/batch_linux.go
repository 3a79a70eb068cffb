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

// mmsgConn does batched I/O with recvmmsg and sendmmsg through the
// socket's syscall.RawConn, so that the runtime poller still does the
// waiting and deadlines and Close work as on the *net.UDPConn. The read
// and the write side each keep their own headers, so one reader and one
// writer may run at once; each side is for one goroutine at a time.
type mmsgConn struct {
	rc   syscall.RawConn
	r, w mmsgSide
}

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
	c.r.fn = c.recv // bound once: a method value per call would allocate
	c.w.fn = c.send
	return c, nil
}

// prepare points side s's headers at ms (at most mmsgMax of them).
func (s *mmsgSide) prepare(ms []msg, read bool) {
	s.n = min(len(ms), mmsgMax)
	s.errno = nil
	for i := range s.n {
		m, h, iov := &ms[i], &s.hs[i], &s.iovs[i]
		b := m.buf
		if !read {
			b = b[:m.n]
		}
		iov.Base = unsafe.SliceData(b)
		iov.SetLen(len(b))
		h.Hdr = unix.Msghdr{Name: &s.names[i][0], Namelen: unix.SizeofSockaddrInet4, Iov: iov}
		h.Hdr.SetIovlen(1)
		h.Len = 0
		if !read {
			putSockaddr4(&s.names[i], m.addr)
		}
	}
}

func (c *mmsgConn) readBatch(ms []msg) (int, error) {
	s := &c.r
	s.prepare(ms, true)
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
	s.prepare(ms, false)
	if err := c.rc.Write(s.fn); err != nil {
		return 0, unwrapOp(err)
	}
	if s.errno != nil {
		return 0, os.NewSyscallError("sendmmsg", s.errno)
	}
	return s.n, nil
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
