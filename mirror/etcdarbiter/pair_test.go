package etcdarbiter

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
)

// A mirrored pair using the etcd arbiter: the primary's start claim, a
// takeover after a crash and the record they leave in etcd. Real time,
// since etcd runs on real sockets (loopback).
func TestPairTakeover(t *testing.T) {
	e := startEtcd(t)
	cli := e.client(t)
	var log *slog.Logger
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	p := mirrortest.NewPair(t, mirrortest.PairConfig{Clients: 1, Logger: log, Server: func(c *mirror.Config) {
		a, err := New(Config{Client: cli, Network: mirrortest.InternalNet, Prefix: DefaultPrefix + "pair/"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		c.Arbiter = a
	}})
	if !p.WaitMirrored(10*time.Second) || !p.WaitRoutes(10*time.Second) {
		t.Fatalf("not mirrored: A %+v, B %+v", p.A.Status(), p.B.Status())
	}
	c := p.Clients[0]
	do := func(req []byte) (byte, string) {
		t.Helper()
		return c.Call(t, req, 10*time.Second)
	}
	do(mirrortest.Put("a", "1"))
	if s := p.A.Stats(); s.Claims == 0 {
		t.Fatalf("A claimed no epoch at start: %+v", s)
	}
	// A real crash: the process is gone. (memlan's Crash alone would leave
	// A reaching etcd, which is on real sockets, and A would win the claim
	// and serve nobody.)
	p.Kill(p.A)
	if st, v := do(mirrortest.Get("a")); st != mirrortest.StatusOK || v != "1" {
		t.Fatalf("a = %d %q after the takeover", st, v)
	}
	if b := p.B.Status(); b.Role != mirror.RolePrimary || b.Epoch != 2 {
		t.Fatalf("B: %+v", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, DefaultPrefix+"pair/00c0ffee/epoch")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("epoch record: %v, %+v", err, resp)
	}
	// B's name is its LAN address, which A has as its Peer.
	if got := string(resp.Kvs[0].Value); got != "0000000002 "+mirror.ServerID(p.A.Config.Peer) {
		t.Fatalf("epoch record %q", got)
	}
}
