package echo

import (
	"errors"
	"fmt"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// Client sends ping requests from a Conn (any socket; a dynamic one is
// usual) and waits for the matching replies. A Client is not safe for
// concurrent use: it owns the Conn's reads.
type Client struct {
	conn *ipx.Conn
	// Type is the packet type requests are sent with; NewClient sets
	// PacketType.
	Type ipx.PacketType

	out, in []byte
}

// Reply describes one answered ping.
type Reply struct {
	// RTT is the time from sending the request to reading the reply.
	RTT time.Duration
	// From is the replying address (the reply's source).
	From ipx.Addr
	// Hops is the reply's transport control: routers it crossed.
	Hops uint8
	// Len is the reply's IPX payload length (ping header and data).
	Len int
}

// NewClient returns a Client that sends on c.
func NewClient(c *ipx.Conn) *Client {
	return &Client{conn: c, Type: PacketType, in: make([]byte, ipx.MaxPacketLen)}
}

// Ping sends a request with the given id and size bytes of padding to
// dst, then waits until timeout for a reply with that id from dst's node.
// Replies to earlier ids and other packets are skipped. When no reply
// comes the error wraps os.ErrDeadlineExceeded.
func (c *Client) Ping(dst ipx.Addr, id uint16, size int, timeout time.Duration) (Reply, error) {
	if size < 0 {
		return Reply{}, fmt.Errorf("echo: negative padding %d", size)
	}
	m := Message{Version: Version, Kind: KindRequest, ID: id}
	c.out = c.out[:0]
	c.out, _ = m.AppendBinary(c.out)
	for i := range size {
		c.out = append(c.out, byte(i))
	}
	if cap(c.in) < len(c.out) {
		c.in = make([]byte, len(c.out))
	}
	start := time.Now()
	if err := c.conn.SetReadDeadline(start.Add(timeout)); err != nil {
		return Reply{}, err
	}
	defer c.conn.SetReadDeadline(time.Time{})
	if _, err := c.conn.WriteMsg(c.out, dst, ipx.WriteOptions{Type: c.Type}); err != nil {
		return Reply{}, err
	}
	for {
		n, info, err := c.conn.ReadMsg(c.in[:cap(c.in)])
		if err != nil {
			return Reply{}, err
		}
		var r Message
		if r.UnmarshalBinary(c.in[:n]) != nil || r.Kind != KindReply || r.ID != id ||
			info.Header.Src.Node != dst.Node {
			continue
		}
		return Reply{
			RTT:  time.Since(start),
			From: info.Header.Src,
			Hops: info.Header.TransportControl,
			Len:  n,
		}, nil
	}
}

// IsTimeout reports whether err is a Ping that got no reply in time.
func IsTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
