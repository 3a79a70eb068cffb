package sap_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/sap"
)

var sapBroadcast = ipx.Addr{Node: ipx.NodeBroadcast, Socket: ipx.SocketSAP}

// raw binds a dynamic socket on h to send hand-made SAP packets.
func (h *host) raw() *ipx.Conn {
	h.t.Helper()
	c, err := h.stack.Listen(0)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

func sendSAP(t *testing.T, c *ipx.Conn, dst ipx.Addr, m *sap.Message) {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteMsg(b, dst, ipx.WriteOptions{Type: ipx.TypePEP}); err != nil {
		t.Fatal(err)
	}
}

// announce broadcasts n file servers named prefix0, prefix1, ... from c,
// seven to a packet a millisecond apart, at hops.
func announce(t *testing.T, c *ipx.Conn, prefix string, n int, hops uint16) {
	t.Helper()
	var es []sap.Entry
	flush := func() {
		if len(es) > 0 {
			sendSAP(t, c, sapBroadcast, &sap.Message{Op: sap.OpGeneralResponse, Entries: es})
			es = es[:0]
			// As a real sender paces, so that no socket queue overflows.
			time.Sleep(time.Millisecond)
		}
	}
	for i := range n {
		e := fileServer(fmt.Sprintf("%s%d", prefix, i), hops)
		e.Addr.Net, e.Addr.Node = 0x77, node(0x77)
		es = append(es, e)
		if len(es) == sap.MaxEntries {
			flush()
		}
	}
	flush()
}

func has(a *sap.Advertiser, name string) bool {
	_, ok := a.Table().Lookup(sap.TypeFileServer, sap.MustName(name))
	return ok
}

// bigRouter is a router between segments A (net 0xA) and B (0xB)
// holding 4,096 services learned on A from a feeder.
type bigRouter struct {
	adv    *sap.Advertiser
	r      *host
	feeder *ipx.Conn // a socket of a host on A
	b      *host     // a host on B
}

func newBigRouter(t *testing.T, cfg sap.Config) *bigRouter {
	segA := memlan.NewSegment(memlan.Config{Seed: 21})
	segB := memlan.NewSegment(memlan.Config{Seed: 22})
	r := newHost(t, 3, true, attach{segA, 0xA}, attach{segB, 0xB})
	feeder := newHost(t, 1, false, attach{segA, 0xA})
	b := newHost(t, 2, false, attach{segB, 0xB})
	if cfg.Table.MaxServices == 0 {
		cfg.Table.MaxServices = 8192
	}
	adv := r.advertiser(cfg)
	fc := feeder.raw()
	announce(t, fc, "S", 4096, 1)
	// Let the triggered updates on B drain.
	time.Sleep(time.Minute)
	synctest.Wait()
	if n := adv.Table().Len(); n != 4096 {
		t.Fatalf("router holds %d services, want 4096", n)
	}
	return &bigRouter{adv: adv, r: r, feeder: fc, b: b}
}

var wildcardQuery = &sap.Message{Op: sap.OpGeneralQuery, ServiceType: sap.TypeWildcard}

// TestNotDeafWhileAnswering: answering a wildcard query with 4,096
// services takes half a minute of paced packets; meanwhile the router
// keeps reading and learns a new service at once.
func TestNotDeafWhileAnswering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br := newBigRouter(t, sap.Config{})
		sendSAP(t, br.b.raw(), sapBroadcast, wildcardQuery)
		time.Sleep(100 * time.Millisecond)
		announce(t, br.feeder, "NEW", 1, 1)
		time.Sleep(time.Second)
		synctest.Wait()
		if !has(br.adv, "NEW0") {
			t.Fatal("router did not learn a service announced while it answered a query")
		}
		if st := br.adv.Stats(); st.Answered != 1 || st.Queries != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestNotDeafWhileUpdating: the periodic full update, half a minute of
// paced packets on B, does not block reading either.
func TestNotDeafWhileUpdating(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br := newBigRouter(t, sap.Config{})
		// A periodic update falls within these 90 s.
		for i := range 90 {
			name := fmt.Sprintf("T%d-", i)
			announce(t, br.feeder, name, 1, 1)
			time.Sleep(time.Second)
			synctest.Wait()
			if !has(br.adv, name+"0") {
				t.Fatalf("%s not learned within a second", name)
			}
		}
	})
}

// TestStopsWithStack: closing the Stack stops the Advertiser at once,
// even while it answers a long query, and a later Close returns at once.
func TestStopsWithStack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br := newBigRouter(t, sap.Config{})
		sendSAP(t, br.b.raw(), sapBroadcast, wildcardQuery)
		time.Sleep(time.Second)
		br.r.stack.Close()
		synctest.Wait()
		errs := br.adv.Stats().SendErrors
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if st := br.adv.Stats(); st.SendErrors != errs {
			t.Fatalf("still sending after the Stack closed: %d send errors, then %d", errs, st.SendErrors)
		}
		start := time.Now()
		br.adv.Close()
		if d := time.Since(start); d > 0 {
			t.Fatalf("Close after the Stack closed took %v", d)
		}
	})
}

// TestCloseBounded: withdrawing 4,096 services takes half a minute of
// packets 55 ms apart; Close takes at most CloseTimeout, and still
// withdraws them all. A cancelled context withdraws nothing.
func TestCloseBounded(t *testing.T) {
	for _, timeout := range []time.Duration{0, time.Second, -1} {
		t.Run(fmt.Sprint(timeout), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				br := newBigRouter(t, sap.Config{CloseTimeout: max(timeout, 0)})
				obs := br.b.advertiser(sap.Config{Table: sap.TableConfig{MaxServices: 8192}})
				// Within 90 s, before the feeder's services age out.
				time.Sleep(90 * time.Second)
				synctest.Wait()
				if n := obs.Table().Len(); n != 4096 {
					t.Fatalf("observer holds %d: %+v", n, obs.Stats())
				}
				want := timeout
				if want == 0 {
					want = sap.DefaultCloseTimeout
				}
				start := time.Now()
				var err error
				if timeout < 0 {
					ctx, cancel := context.WithCancel(context.Background())
					cancel()
					want = 0
					err = br.adv.CloseContext(ctx)
				} else {
					err = br.adv.Close()
				}
				if err != nil {
					t.Fatal(err)
				}
				if d := time.Since(start); d > want {
					t.Fatalf("Close took %v, want at most %v", d, want)
				}
				synctest.Wait()
				wantLeft := 0
				if timeout < 0 {
					wantLeft = 4096
				}
				if n := obs.Table().Len(); n != wantLeft {
					t.Fatalf("observer still holds %d services, want %d", n, wantLeft)
				}
			})
		})
	}
}

// TestCloseTwice: the second Close follows the standard library's rule.
func TestCloseTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{Seed: 23})
		h := newHost(t, 1, false, attach{seg, 0x10})
		adv := h.advertiser(sap.Config{})
		if err := adv.Close(); err != nil {
			t.Fatal(err)
		}
		err := adv.Close()
		var oe *net.OpError
		if !errors.Is(err, net.ErrClosed) || !errors.As(err, &oe) || oe.Op != "close" {
			t.Fatalf("second Close: %v", err)
		}
		if err := adv.Add(fileServer("LATE", 1)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Add after Close: %v", err)
		}
	})
}

// TestLinkAdded: a link added to the Stack hears the general query and
// the services at once, not at the next periodic update.
func TestLinkAdded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		segA := memlan.NewSegment(memlan.Config{Seed: 24})
		segB := memlan.NewSegment(memlan.Config{Seed: 25})
		server := newHost(t, 1, false, attach{segA, 0xA})
		other := newHost(t, 2, false, attach{segB, 0xB})
		obs := other.advertiser(sap.Config{})
		obs.Add(fileServer("THERE", 1))
		adv := server.advertiser(sap.Config{})
		adv.Add(fileServer("HERE", 1))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		l, err := segB.Attach(node(1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := server.stack.AddLink(l, 0xB); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if !has(obs, "HERE") {
			t.Fatal("the new link did not hear the service within a second")
		}
		if !has(adv, "THERE") {
			t.Fatal("the new link was not asked for its services")
		}
	})
}

// TestLinkRemoved: the services learned on a removed link are dropped,
// and withdrawn on the other links, at once.
func TestLinkRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		segA := memlan.NewSegment(memlan.Config{Seed: 26})
		segB := memlan.NewSegment(memlan.Config{Seed: 27})
		server := newHost(t, 1, false, attach{segA, 0xA})
		r := newHost(t, 3, true, attach{segA, 0xA}, attach{segB, 0xB})
		other := newHost(t, 2, false, attach{segB, 0xB})
		server.advertiser(sap.Config{}).Add(fileServer("FAR", 1))
		radv := r.advertiser(sap.Config{})
		obs := other.advertiser(sap.Config{})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if !has(obs, "FAR") {
			t.Fatal("not propagated")
		}
		if err := r.stack.RemoveLink(1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if has(radv, "FAR") || has(obs, "FAR") {
			t.Fatalf("a service behind a removed link is still held: router %v, observer %v", has(radv, "FAR"), has(obs, "FAR"))
		}
	})
}

// TestPendingQueriesBounded: queries that find MaxPendingQueries answers
// already waiting are dropped and counted; the rest are answered.
func TestPendingQueriesBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br := newBigRouter(t, sap.Config{MaxPendingQueries: 2, Table: sap.TableConfig{MaxAge: 10 * time.Minute}})
		// Five queriers ask for everything at once: one answer starts,
		// two wait, two are dropped. A repeated query is not queued
		// twice.
		qs := make([]*ipx.Conn, 5)
		for i := range qs {
			qs[i] = br.b.raw()
		}
		sendSAP(t, qs[0], sapBroadcast, wildcardQuery)
		time.Sleep(100 * time.Millisecond)
		for _, q := range qs[1:] {
			sendSAP(t, q, sapBroadcast, wildcardQuery)
		}
		sendSAP(t, qs[1], sapBroadcast, wildcardQuery)
		synctest.Wait()
		if st := br.adv.Stats(); st.Queries != 6 || st.QueriesDropped != 2 {
			t.Fatalf("stats %+v", st)
		}
		// Each answer takes 586 packets 55 ms apart; three go out.
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if st := br.adv.Stats(); st.Answered != 3 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestFlood: one node announces 100,000 services, filling the router's
// table many times over and refreshing them; a legitimate server's
// service is still learned, and propagated, within one update.
func TestFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		segA := memlan.NewSegment(memlan.Config{Seed: 28})
		segB := memlan.NewSegment(memlan.Config{Seed: 29})
		r := newHost(t, 3, true, attach{segA, 0xA}, attach{segB, 0xB})
		flooder := newHost(t, 1, false, attach{segA, 0xA})
		server := newHost(t, 4, false, attach{segA, 0xA})
		other := newHost(t, 2, false, attach{segB, 0xB})
		radv := r.advertiser(sap.Config{})
		obs := other.advertiser(sap.Config{})
		announce(t, flooder.raw(), "F", 100_000, 1)
		if n := radv.Table().Len(); n != sap.DefaultMaxServices {
			t.Fatalf("router holds %d", n)
		}
		server.advertiser(sap.Config{}).Add(fileServer("LEGIT", 1))
		time.Sleep(time.Second)
		synctest.Wait()
		if !has(radv, "LEGIT") {
			t.Fatal("router did not learn the legitimate service")
		}
		// The flooder refreshes; the service stays.
		announce(t, flooder.raw(), "F", 100_000, 1)
		time.Sleep(time.Minute)
		synctest.Wait()
		if !has(radv, "LEGIT") || !has(obs, "LEGIT") {
			t.Fatalf("legitimate service held by router %v, observer %v", has(radv, "LEGIT"), has(obs, "LEGIT"))
		}
		var flood sap.Neighbour
		for _, n := range radv.Table().Neighbours() {
			if n.Node == node(1) {
				flood = n
			}
		}
		if flood.Refused < 100_000 {
			t.Fatalf("flooder's refusals not counted: %+v", radv.Table().Neighbours())
		}
	})
}

// TestAllLinksDownThenAdded: once every link has failed the socket is
// done; a link added later brings the Advertiser back, reading and
// advertising.
func TestAllLinksDownThenAdded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		segA := memlan.NewSegment(memlan.Config{Seed: 30})
		segB := memlan.NewSegment(memlan.Config{Seed: 31})
		server := newHost(t, 1, false, attach{segA, 0xA})
		other := newHost(t, 2, false, attach{segB, 0xB})
		obs := other.advertiser(sap.Config{})
		obs.Add(fileServer("THERE", 1))
		adv := server.advertiser(sap.Config{})
		adv.Add(fileServer("HERE", 1))
		time.Sleep(time.Second)
		synctest.Wait()
		server.links[0].Close() // the only link fails
		time.Sleep(time.Second)
		synctest.Wait()
		l, err := segB.Attach(node(1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := server.stack.AddLink(l, 0xB); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if !has(obs, "HERE") || !has(adv, "THERE") {
			t.Fatalf("after all links down and a new link: observer has HERE %v, server has THERE %v", has(obs, "HERE"), has(adv, "THERE"))
		}
	})
}
