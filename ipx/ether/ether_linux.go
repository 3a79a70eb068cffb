//go:build linux

package ether

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

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
	r := &rawIO{rc: rc}
	r.readFn = r.read
	l.fast = r
	return l, nil
}

// rawIO reads and writes frames with read(2) and write(2) on the packet
// socket: the frame carries its own addresses, and unlike recvfrom and
// sendto this allocates no sockaddr. A socket bound to an interface sends
// write(2)'s frames out of it.
type rawIO struct {
	rc syscall.RawConn

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

func (r *rawIO) readFrame(b []byte) (int, error) {
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

// retry reports whether err is transient: the interface went down, which
// the kernel reports once as ENETDOWN while the socket stays usable. A
// removed interface (ENODEV) or anything else ends the Link.
func (r *rawIO) retry(err error) bool {
	return errors.Is(err, unix.ENETDOWN)
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
	if w.err != nil {
		return os.NewSyscallError("write", w.err)
	}
	return nil
}
