//go:build linux

package ether

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Listen opens a raw packet socket on the interface ifname and returns a
// Link that carries IPX on it in cfg's framing. The socket is bound to the
// protocol that framing arrives on (ETH_P_ALL in auto mode) and filtered
// in the kernel to IPX frames for this interface's MAC or broadcast, not
// sent by it. It needs CAP_NET_RAW; without it the error matches
// os.ErrPermission. The socket lives in the network namespace of the
// calling thread.
func Listen(ifname string, cfg Config) (*Link, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("ether: listen %s: %w", ifname, err)
	}
	if len(ifi.HardwareAddr) != len(ipx.Node{}) {
		return nil, fmt.Errorf("ether: listen %s: hardware address %q is not a MAC: %w", ifname, ifi.HardwareAddr, ipx.ErrBadAddr)
	}
	node := ipx.Node(ifi.HardwareAddr)
	prog, err := filterProgram(node, cfg.FrameType)
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("ether: filter: %w", err)
	}
	c, err := packet.Listen(ifi, packet.Raw, protocolFor(cfg.FrameType), &packet.Config{Filter: raw})
	if err != nil {
		return nil, fmt.Errorf("ether: listen %s: %w", ifname, err)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("ether: listen %s: %w", ifname, err)
	}
	l, err := newLink(c, ifname, node, ifi.MTU, cfg)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	r := &rawIO{rc: rc, conn: c, ifindex: ifi.Index, deadline: l.readDeadline}
	r.readFn = r.read
	if ifi.Flags&net.FlagUp == 0 {
		// No ENETDOWN will come to tell a later removal: watch from now.
		r.down = true
		c.SetReadDeadline(r.wakeup())
	}
	l.fast = r
	return l, nil
}

// rawIO reads and writes frames with read(2) and write(2) on the packet
// socket: the frame carries its own addresses, and unlike recvfrom and
// sendto this allocates no sockaddr. A socket bound to an interface sends
// write(2)'s frames out of it.
type rawIO struct {
	rc       syscall.RawConn
	conn     *packet.Conn
	ifindex  int
	deadline func() time.Time // the caller's read deadline

	// down is set while the interface is down: reads then wake every
	// downPoll to see whether it has been removed. Used under Link.rmu.
	down bool

	// Read state, used under Link.rmu; readFn is r.read, bound once.
	rb     []byte
	rn     int
	rerr   error
	readFn func(fd uintptr) bool
}

func (r *rawIO) read(fd uintptr) bool {
	for {
		n, err := unix.Read(int(fd), r.rb)
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		r.rn, r.rerr = n, err
		return true
	}
}

// downPoll is how often a read checks for removal of an interface that
// is down: the kernel reports the removal of a downed interface to no one.
const downPoll = 250 * time.Millisecond

func (r *rawIO) readFrame(b []byte) (int, error) {
	for {
		n, err := r.read1(b)
		if err == nil {
			if r.down {
				r.down = false
				r.conn.SetReadDeadline(r.deadline())
			}
			return n, nil
		}
		if !r.down || !errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, err
		}
		// Our own wake-up while down, unless the caller's deadline passed.
		if user := r.deadline(); !user.IsZero() && !time.Now().Before(user) {
			return 0, err
		}
		if r.gone() {
			return 0, errRemoved
		}
		r.conn.SetReadDeadline(r.wakeup())
	}
}

func (r *rawIO) read1(b []byte) (int, error) {
	r.rb = b
	err := r.rc.Read(r.readFn)
	r.rb = nil
	if err != nil {
		return 0, err
	}
	if r.rerr != nil {
		return 0, os.NewSyscallError("read", r.rerr)
	}
	return r.rn, nil
}

// wakeup is the read deadline while the interface is down.
func (r *rawIO) wakeup() time.Time {
	t := time.Now().Add(downPoll)
	if user := r.deadline(); !user.IsZero() && user.Before(t) {
		return user
	}
	return t
}

var errRemoved = fmt.Errorf("interface removed: %w", os.NewSyscallError("read", unix.ENODEV))

// readError sorts read errors. The kernel reports an interface going down
// once, as ENETDOWN; the socket carries on when it comes back up, so the
// read is retried (nil), waking now and then to see whether the interface
// has been removed meanwhile: a removed interface leaves the socket
// unbound (getsockname shows another ifindex) and would block reads
// forever, so that ends the Link, as does any other error.
func (r *rawIO) readError(err error) error {
	if !errors.Is(err, unix.ENETDOWN) {
		return err
	}
	if r.gone() {
		return errRemoved
	}
	r.down = true
	r.conn.SetReadDeadline(r.wakeup())
	return nil
}

// gone reports whether the socket has lost its interface.
func (r *rawIO) gone() bool {
	idx := 0
	cerr := r.rc.Control(func(fd uintptr) {
		if sa, err := unix.Getsockname(int(fd)); err == nil {
			if ll, ok := sa.(*unix.SockaddrLinklayer); ok {
				idx = ll.Ifindex
			}
		}
	})
	return cerr != nil || idx != r.ifindex
}

func (r *rawIO) writeFrame(w *writer) error {
	if w.fn == nil {
		w.fn = func(fd uintptr) bool {
			for {
				_, err := unix.Write(int(fd), w.frame)
				switch err {
				case unix.EINTR:
					continue
				case unix.EAGAIN:
					return false
				}
				w.err = err
				return true
			}
		}
	}
	w.err = nil
	if err := r.rc.Write(w.fn); err != nil {
		return err
	}
	if errors.Is(w.err, unix.ENETDOWN) {
		// The kernel reports an interface going down as a pending socket
		// error that the next send may consume even after the interface
		// is back up; a second try tells whether it is down now.
		w.err = nil
		if err := r.rc.Write(w.fn); err != nil {
			return err
		}
	}
	if w.err != nil {
		return os.NewSyscallError("write", w.err)
	}
	return nil
}
