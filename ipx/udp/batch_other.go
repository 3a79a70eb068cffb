//go:build !linux

package udp

import "net"

// mmsgConn stands in for the Linux recvmmsg and sendmmsg I/O, which other
// systems do without: they read and write one datagram per call.
type mmsgConn struct{ singleConn }

func newMmsgConn(*net.UDPConn) (*mmsgConn, error) { return nil, errNoMmsg }
