package sap_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/internal/ipxtest"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/sap"
)

func node(n byte) ipx.Node { return ipxtest.Node(n) }

// host is a Stack attached to one or more segments.
type host struct {
	t     *testing.T
	stack *ipx.Stack
	links []*memlan.Link
}

type attach struct {
	seg *memlan.Segment
	net ipx.Network
}

func newHost(t *testing.T, n byte, forward bool, segs ...attach) *host {
	t.Helper()
	on := make([]ipxtest.On, len(segs))
	for i, a := range segs {
		on[i] = ipxtest.On{Seg: a.seg, Net: a.net}
	}
	s, links := ipxtest.Stack(t, ipx.StackConfig{Forward: forward}, node(n), on...)
	return &host{t: t, stack: s, links: links}
}

func (h *host) advertiser(cfg sap.Config) *sap.Advertiser {
	h.t.Helper()
	a, err := sap.NewAdvertiser(h.stack, cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { a.Close() })
	return a
}

func fileServer(name string, hops uint16) sap.Entry {
	return sap.Entry{Type: sap.TypeFileServer, Name: sap.MustName(name), Addr: ipx.Addr{Socket: ipx.SocketNCP}, Hops: hops}
}

func names(rs []sap.Reply) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s/%d", r.Name, r.Hops)
	}
	return s
}

func TestAdvertiseAndDiscover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{Seed: 1})
		server := newHost(t, 1, false, attach{seg, 0x10})
		client := newHost(t, 2, false, attach{seg, 0x10})
		adv := server.advertiser(sap.Config{})
		for i := range 10 {
			if err := adv.Add(fileServer(fmt.Sprintf("FS%02d", i), 1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := adv.Add(sap.Entry{Type: sap.TypePrintServer, Name: sap.MustName("PRN"), Addr: ipx.Addr{Socket: 0x8060}, Hops: 1}); err != nil {
			t.Fatal(err)
		}

		ctx := context.Background()
		got, err := sap.Query(ctx, client.stack, sap.TypeFileServer)
		if err != nil {
			t.Fatal(err)
		}
		// Ten file servers need two responses of at most seven.
		if len(got) != 10 || got[0].Name.String() != "FS00" || got[9].Name.String() != "FS09" {
			t.Fatalf("got %s", names(got))
		}
		want := ipx.Addr{Net: 0x10, Node: node(1), Socket: ipx.SocketNCP}
		if got[3].Addr != want || got[3].Hops != 1 || got[3].From.Node != node(1) {
			t.Fatalf("entry %+v, want address %v hops 1 from the server", got[3], want)
		}
		all, err := sap.Query(ctx, client.stack, sap.TypeWildcard)
		if err != nil || len(all) != 11 || all[10].Type != sap.TypePrintServer {
			t.Fatalf("wildcard: %v %s", err, names(all))
		}
		near, err := sap.Nearest(ctx, client.stack, sap.TypePrintServer)
		if err != nil || near.Name.String() != "PRN" || near.Addr.Socket != 0x8060 {
			t.Fatalf("nearest: %v %+v", err, near)
		}
		if _, err := sap.Query(ctx, client.stack, sap.TypeDirectoryServer); !errors.Is(err, sap.ErrNoService) {
			t.Fatalf("query for an absent type: %v, want ErrNoService", err)
		}
		// The absent type was asked DefaultAttempts times, unanswered.
		if st := adv.Stats(); st.Queries != 2+sap.DefaultAttempts || st.NearestQueries != 1 || st.Answered != 3 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestQueryFromSameHost lists the services of the host the client runs
// on: the Stack loops the broadcast query and the answer back.
func TestQueryFromSameHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{Seed: 10})
		h := newHost(t, 1, false, attach{seg, 0x10})
		h.advertiser(sap.Config{}).Add(fileServer("SELF", 1))
		got, err := sap.Query(context.Background(), h.stack, sap.TypeFileServer)
		if err != nil || len(got) != 1 || got[0].Name.String() != "SELF" {
			t.Fatalf("got %s, %v", names(got), err)
		}
	})
}

func TestPeriodicAndAgeOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{Seed: 2})
		server := newHost(t, 1, false, attach{seg, 0x10})
		observer := newHost(t, 2, false, attach{seg, 0x10})
		obs := observer.advertiser(sap.Config{})
		adv := server.advertiser(sap.Config{Interval: 30 * time.Second})
		adv.Add(fileServer("FS1", 1))
		time.Sleep(time.Second)
		synctest.Wait()
		s, ok := obs.Table().Lookup(sap.TypeFileServer, sap.MustName("FS1"))
		if !ok || s.From != node(1) || s.Link != 1 || s.Hops != 1 {
			t.Fatalf("observer holds %v %+v", ok, s)
		}
		// Periodic broadcasts keep it alive well past the 3-minute age.
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if _, ok := obs.Table().Lookup(sap.TypeFileServer, sap.MustName("FS1")); !ok {
			t.Fatal("aged out although advertised every 30 s")
		}
		// The server crashes: no withdrawal, so the entry ages out.
		server.links[0].Crash()
		time.Sleep(2*time.Minute + 50*time.Second)
		synctest.Wait()
		if _, ok := obs.Table().Lookup(sap.TypeFileServer, sap.MustName("FS1")); !ok {
			t.Fatal("gone before 3 minutes")
		}
		time.Sleep(15 * time.Second)
		synctest.Wait()
		if _, ok := obs.Table().Lookup(sap.TypeFileServer, sap.MustName("FS1")); ok {
			t.Fatal("still there after 3 minutes of silence")
		}
		if st := obs.Stats().Table; st.Expired != 1 || st.Services != 0 {
			t.Fatalf("table stats %+v", st)
		}
	})
}

func TestWithdrawOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{Seed: 3})
		server := newHost(t, 1, false, attach{seg, 0x10})
		observer := newHost(t, 2, false, attach{seg, 0x10})
		obs := observer.advertiser(sap.Config{})
		adv := server.advertiser(sap.Config{})
		adv.Add(fileServer("FS1", 1))
		adv.Add(fileServer("FS2", 1))
		time.Sleep(time.Second)
		synctest.Wait()
		if n := obs.Table().Len(); n != 2 {
			t.Fatalf("observer holds %d services", n)
		}
		// Remove withdraws one at once; Close the rest.
		if !adv.Remove(sap.TypeFileServer, sap.MustName("FS1")) {
			t.Fatal("Remove found nothing")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if _, ok := obs.Table().Lookup(sap.TypeFileServer, sap.MustName("FS1")); ok || obs.Table().Len() != 1 {
			t.Fatal("FS1 not withdrawn")
		}
		adv.Close()
		synctest.Wait()
		if n := obs.Table().Len(); n != 0 {
			t.Fatalf("observer still holds %d services after Close", n)
		}
		if st := obs.Stats().Table; st.Removed != 2 || st.Expired != 0 {
			t.Fatalf("table stats %+v", st)
		}
	})
}

func TestNearestByRouteMetric(t *testing.T) {
	tests := []struct {
		name               string
		ticks1, ticks2     uint16
		rhops1, rhops2     uint16
		svcHops1, svcHops2 uint16
		want               string
	}{
		{"fewest ticks wins over hops", 5, 2, 1, 3, 1, 1, "FAR"},
		{"ticks tie, fewest route hops", 3, 3, 1, 2, 4, 1, "NEAR"},
		{"route tie, fewest service hops", 3, 3, 1, 1, 2, 1, "FAR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				segA := memlan.NewSegment(memlan.Config{Seed: 4})
				segB := memlan.NewSegment(memlan.Config{Seed: 5})
				segC := memlan.NewSegment(memlan.Config{Seed: 6})
				// Servers on internal networks 0x100 and 0x200, behind
				// segments B and C; the router joins A, B and C.
				s1 := newHost(t, 1, false, attach{segB, 0xB})
				s2 := newHost(t, 2, false, attach{segC, 0xC})
				if _, err := s1.stack.AddLink(ipx.NewInternalLink(node(0x11)), 0x100); err != nil {
					t.Fatal(err)
				}
				if _, err := s2.stack.AddLink(ipx.NewInternalLink(node(0x12)), 0x200); err != nil {
					t.Fatal(err)
				}
				router := newHost(t, 3, true, attach{segA, 0xA}, attach{segB, 0xB}, attach{segC, 0xC})
				client := newHost(t, 4, false, attach{segA, 0xA})
				var routes ipx.StaticRoutes
				routes.Set(0x100, ipx.Route{Link: 2, NextHop: node(1), Hops: tt.rhops1, Ticks: tt.ticks1})
				routes.Set(0x200, ipx.Route{Link: 3, NextHop: node(2), Hops: tt.rhops2, Ticks: tt.ticks2})
				router.stack.SetRoutes(&routes)
				router.advertiser(sap.Config{Routes: &routes})
				s1.advertiser(sap.Config{}).Add(fileServer("NEAR", tt.svcHops1))
				s2.advertiser(sap.Config{}).Add(fileServer("FAR", tt.svcHops2))
				synctest.Wait()

				got, err := sap.Nearest(context.Background(), client.stack, sap.TypeFileServer)
				if err != nil {
					t.Fatal(err)
				}
				if got.Name.String() != tt.want {
					t.Fatalf("nearest %s, want %s", got.Name, tt.want)
				}
				wantHops := tt.svcHops1 + 1
				wantNet := ipx.Network(0x100)
				if tt.want == "FAR" {
					wantHops, wantNet = tt.svcHops2+1, 0x200
				}
				if got.Hops != wantHops || got.Addr.Net != wantNet || got.From.Node != node(3) {
					t.Fatalf("answer %+v, want hops %d on %v from the router", got, wantHops, wantNet)
				}
			})
		})
	}
}

// TestPropagation runs server S on net 1, router R1 between nets 1 and 2,
// router R2 between nets 2 and 3, client C on net 3.
func TestPropagation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg1 := memlan.NewSegment(memlan.Config{Seed: 7})
		seg2 := memlan.NewSegment(memlan.Config{Seed: 8})
		seg3 := memlan.NewSegment(memlan.Config{Seed: 9})
		s := newHost(t, 1, false, attach{seg1, 1})
		observer := newHost(t, 5, false, attach{seg1, 1})
		r1 := newHost(t, 2, true, attach{seg1, 1}, attach{seg2, 2})
		r2 := newHost(t, 3, true, attach{seg2, 2}, attach{seg3, 3})
		c := newHost(t, 4, false, attach{seg3, 3})
		obs := observer.advertiser(sap.Config{})
		a1 := r1.advertiser(sap.Config{})
		a2 := r2.advertiser(sap.Config{})
		srv := s.advertiser(sap.Config{})
		srv.Add(fileServer("FS1", 1))
		synctest.Wait()

		got, err := sap.Query(context.Background(), c.stack, sap.TypeFileServer)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Hops != 3 || got[0].Addr != (ipx.Addr{Net: 1, Node: node(1), Socket: ipx.SocketNCP}) || got[0].From.Node != node(3) {
			t.Fatalf("client sees %+v, want FS1 at 3 hops from R2", got)
		}
		if sv, _ := a2.Table().Lookup(sap.TypeFileServer, sap.MustName("FS1")); sv.Hops != 2 || sv.Link != 1 || sv.From != node(2) {
			t.Fatalf("R2 holds %+v", sv)
		}

		// Split horizon: after several periodic rounds, the observer on
		// net 1 has heard FS1 only from S, never back from R1; R1 never
		// learns it back from R2.
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if sv, _ := obs.Table().Lookup(sap.TypeFileServer, sap.MustName("FS1")); sv.From != node(1) || sv.Hops != 1 {
			t.Fatalf("observer holds %+v", sv)
		}
		if st := obs.Stats(); st.Learned != 1 {
			t.Fatalf("observer learned %d times, want once", st.Learned)
		}
		if st := a1.Stats(); st.Learned != 1 {
			t.Fatalf("R1 learned %d changes, want 1", st.Learned)
		}

		// Withdrawal propagates at once through both routers.
		srv.Close()
		synctest.Wait()
		for i, a := range []*sap.Advertiser{obs, a1, a2} {
			if a.Table().Len() != 0 {
				t.Fatalf("advertiser %d still holds %v", i, a.Table().Services(sap.TypeWildcard, nil))
			}
		}
		if _, err := sap.Query(context.Background(), c.stack, sap.TypeFileServer); !errors.Is(err, sap.ErrNoService) {
			t.Fatalf("after withdrawal: %v", err)
		}
	})
}
