package sap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
)

// PacketConn is what a Client needs of a socket; *ipx.Conn provides it.
type PacketConn interface {
	ReadMsg(b []byte) (int, ipx.RecvInfo, error)
	WriteMsg(b []byte, dst ipx.Addr, o ipx.WriteOptions) (int, error)
	SetReadDeadline(t time.Time) error
}

var _ PacketConn = (*ipx.Conn)(nil)

// ClientConfig configures a Client. The zero value takes the defaults.
type ClientConfig struct {
	// Server is where queries go. The zero value broadcasts on the
	// local network (node ff:ff:ff:ff:ff:ff, socket 0x0452).
	Server ipx.Addr
	// Link is the Stack link to query on; 0 means the first link (or the
	// route to Server).
	Link ipx.LinkID
	// Wait is how long answers are collected after each query before
	// the query is repeated (nothing heard) or the result returned.
	// Default 500 ms.
	Wait time.Duration
	// Attempts is how many times a query is sent before giving up.
	// Default 3. The context's deadline or cancellation ends the
	// attempts early.
	Attempts int
	// PacketType of queries; zero means 4 (PEP).
	PacketType ipx.PacketType
	// MaxResults bounds the services Query collects; answers beyond it
	// are dropped, so a flood of responses cannot grow memory without
	// limit. Default DefaultMaxServices.
	MaxResults int
}

// Client defaults.
const (
	DefaultWait     = 500 * time.Millisecond
	DefaultAttempts = 3
)

// Validate reports negative durations or counts.
func (c *ClientConfig) Validate() error {
	if c.Wait < 0 || c.Attempts < 0 || c.MaxResults < 0 {
		return fmt.Errorf("sap: negative Wait %v, Attempts %d or MaxResults %d: %w", c.Wait, c.Attempts, c.MaxResults, ErrBadConfig)
	}
	return nil
}

// Client asks for services over a socket: all servers of a type, or the
// nearest one. A Client is not safe for concurrent use: it reads its
// socket's answers itself.
type Client struct {
	conn PacketConn
	cfg  ClientConfig
	buf  [2048]byte
	msg  *Message
}

// NewClient returns a client that queries over conn, typically a dynamic
// socket from Stack.Listen(0).
func NewClient(conn PacketConn, cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Wait == 0 {
		cfg.Wait = DefaultWait
	}
	if cfg.Attempts == 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.PacketType == 0 {
		cfg.PacketType = ipx.TypePEP
	}
	if cfg.MaxResults == 0 {
		cfg.MaxResults = DefaultMaxServices
	}
	if cfg.Server == (ipx.Addr{}) {
		cfg.Server = broadcast
	}
	return &Client{conn: conn, cfg: cfg, msg: NewMessage()}, nil
}

// Reply is a service heard in answer to a query.
type Reply struct {
	Entry
	// From is the address of the server or router that answered.
	From ipx.Addr
}

// Query sends a general query for services of type typ (TypeWildcard for
// all) and returns what answered within one Wait, de-duplicated by type
// and name (fewest hops kept, at most MaxResults), without services going
// down, ordered by type and name. If nothing answers it asks again, up to Attempts times
// or until ctx ends; then it returns an error wrapping ErrNoService (and
// the context's error if that ended it).
func (c *Client) Query(ctx context.Context, typ ServiceType) ([]Reply, error) {
	var got []Reply
	index := make(map[key]int)
	err := c.exchange(ctx, OpGeneralQuery, typ, func(r Reply) bool {
		i, ok := index[key{r.Type, r.Name}]
		switch {
		case !ok && len(got) < c.cfg.MaxResults:
			index[key{r.Type, r.Name}] = len(got)
			got = append(got, r)
		case ok && r.Hops < got[i].Hops:
			got[i] = r
		}
		return false
	})
	if len(got) > 0 {
		slices.SortFunc(got, func(a, b Reply) int { return compareEntries(a.Entry, b.Entry) })
		return got, nil
	}
	return nil, err
}

// Nearest sends a nearest query for a service of type typ and returns the
// first answer, retrying like Query.
func (c *Client) Nearest(ctx context.Context, typ ServiceType) (Reply, error) {
	var got Reply
	found := false
	err := c.exchange(ctx, OpNearestQuery, typ, func(r Reply) bool {
		got, found = r, true
		return true
	})
	if found {
		return got, nil
	}
	return Reply{}, err
}

// exchange sends the query up to Attempts times and feeds every matching
// answer to take until take returns true or an attempt's Wait ends with
// something taken.
func (c *Client) exchange(ctx context.Context, op Operation, typ ServiceType, take func(Reply) bool) error {
	// Cancellation without a deadline must still unblock a read. On
	// return, wait for a cancellation already under way, then clear the
	// deadline, so the socket is left as we found it.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.conn.SetReadDeadline(time.Unix(1, 0))
		close(fired)
	})
	defer func() {
		if !stop() {
			<-fired
		}
		c.conn.SetReadDeadline(time.Time{})
	}()

	want := OpGeneralResponse
	if op == OpNearestQuery {
		want = OpNearestResponse
	}
	q := Message{Op: op, ServiceType: typ}
	qb, _ := q.AppendBinary(make([]byte, 0, QueryLen))
	took := false
	for attempt := 0; attempt < c.cfg.Attempts; attempt++ {
		if err := ctxErr(ctx); err != nil {
			return fmt.Errorf("sap: %s for %04x: %w: %w", op, uint16(typ), ErrNoService, err)
		}
		if _, err := c.conn.WriteMsg(qb, c.cfg.Server, ipx.WriteOptions{Type: c.cfg.PacketType, Link: c.cfg.Link}); err != nil {
			return fmt.Errorf("sap: sending %s: %w", op, err)
		}
		end := time.Now().Add(c.cfg.Wait)
		if d, ok := ctx.Deadline(); ok && d.Before(end) {
			end = d
		}
		if ctx.Err() == nil {
			c.conn.SetReadDeadline(end)
		}
		for {
			n, info, err := c.conn.ReadMsg(c.buf[:])
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return fmt.Errorf("sap: %s: %w", op, err)
			}
			if c.msg.UnmarshalBinary(c.buf[:n]) != nil || c.msg.Op != want {
				continue
			}
			for _, e := range c.msg.Entries {
				if e.Hops >= MaxHops || !typ.Matches(e.Type) {
					continue
				}
				took = true
				if take(Reply{Entry: e, From: info.Header.Src}) {
					return nil
				}
			}
		}
		if took {
			return nil
		}
	}
	if err := ctxErr(ctx); err != nil {
		return fmt.Errorf("sap: %s for %04x: %w: %w", op, uint16(typ), ErrNoService, err)
	}
	return fmt.Errorf("sap: %s for %04x: no answer after %d attempts: %w", op, uint16(typ), c.cfg.Attempts, ErrNoService)
}

// ctxErr is ctx.Err, also reporting a deadline that has passed but whose
// timer has not fired yet: a read deadline set to the same instant may
// have woken us first.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// Query lists the services of type typ on s's first link: a convenience
// that binds a dynamic socket, runs Client.Query with the default
// ClientConfig and closes the socket.
func Query(ctx context.Context, s *ipx.Stack, typ ServiceType) ([]Reply, error) {
	conn, err := s.Listen(0)
	if err != nil {
		return nil, fmt.Errorf("sap: %w", err)
	}
	defer conn.Close()
	c, _ := NewClient(conn, ClientConfig{})
	return c.Query(ctx, typ)
}

// Nearest finds the nearest service of type typ from s's first link, as
// Query does for Client.Nearest.
func Nearest(ctx context.Context, s *ipx.Stack, typ ServiceType) (Reply, error) {
	conn, err := s.Listen(0)
	if err != nil {
		return Reply{}, fmt.Errorf("sap: %w", err)
	}
	defer conn.Close()
	c, _ := NewClient(conn, ClientConfig{})
	return c.Nearest(ctx, typ)
}
