package ipx_test

import (
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
)

// isDone reports whether ch is closed.
func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestAllLinksDownClearsOnAddLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		s, _ := ipx.NewStack(ipx.StackConfig{})
		defer s.Close()
		l, _ := seg.Attach(node(1))
		s.AddLink(l, 1)
		old := listen(t, s, 0x4000)
		l.Close() // every link has failed
		<-old.Done()

		// A new link ends the "all links down" state: new sockets start
		// open, and read what arrives on it.
		seg2 := memlan.NewSegment(memlan.Config{})
		attach(t, s, seg2, node(1), 2)
		peer := host(t, seg2, node(2), 2, ipx.StackConfig{})
		c := listen(t, s, 0x4001)
		if isDone(c.Done()) {
			t.Fatalf("socket opened after AddLink starts done: %v", c.Err())
		}
		if err := c.Err(); err != nil {
			t.Fatalf("Err after AddLink: %v", err)
		}
		pc := listen(t, peer, 0x4000)
		if _, err := pc.WriteTo([]byte("hi"), ipx.Addr{Net: 2, Node: node(1), Socket: 0x4001}); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 8)
		n, _, err := c.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "hi" {
			t.Fatalf("read after AddLink: %q, %v", buf[:n], err)
		}
		// A socket the failure ended stays ended: Done is final.
		if _, _, err := old.ReadFrom(buf); !errors.Is(err, ipx.ErrLinkDown) {
			t.Fatalf("read on a socket ended by the failure: %v", err)
		}
		// The failed link stays listed, marked.
		links := s.Links()
		if len(links) != 2 || !links[0].Failed || links[1].Failed {
			t.Fatalf("Links = %+v", links)
		}
	})
}

func TestStackDone(t *testing.T) {
	s, err := ipx.NewStack(ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if isDone(s.Done()) {
		t.Fatal("Done closed before Close")
	}
	s.Close()
	if !isDone(s.Done()) {
		t.Fatal("Done open after Close")
	}
}

func TestLinksChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		s, _ := ipx.NewStack(ipx.StackConfig{})
		defer s.Close()

		// want takes the channel, makes a change, and checks that the
		// channel closed and the change is visible in Links.
		want := func(what string, change func(), check func([]ipx.LinkInfo) bool) {
			t.Helper()
			ch := s.LinksChanged()
			if isDone(ch) {
				t.Fatalf("%s: LinksChanged closed before the change", what)
			}
			change()
			<-ch // the failure is seen by the read goroutine: wait for it
			if links := s.Links(); !check(links) {
				t.Fatalf("%s: Links = %+v", what, links)
			}
		}
		var l1 *memlan.Link
		var id1, id2 ipx.LinkID
		want("add", func() {
			l1, _ = seg.Attach(node(1))
			id1, _ = s.AddLink(l1, 1)
		}, func(ls []ipx.LinkInfo) bool { return len(ls) == 1 && ls[0].ID == id1 })
		want("add internal", func() {
			id2, _ = s.AddLink(ipx.NewInternalLink(node(1)), 9)
		}, func(ls []ipx.LinkInfo) bool { return len(ls) == 2 && ls[1].ID == id2 && ls[1].Internal })
		want("fail", func() { l1.Close() },
			func(ls []ipx.LinkInfo) bool { return len(ls) == 2 && ls[0].Failed && !ls[1].Failed })
		want("remove", func() {
			if err := s.RemoveLink(id1); err != nil {
				t.Fatal(err)
			}
		}, func(ls []ipx.LinkInfo) bool { return len(ls) == 1 && ls[0].ID == id2 })
		want("close", func() { s.Close() }, func([]ipx.LinkInfo) bool { return true })
	})
}

func TestRemoveLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		segA := memlan.NewSegment(memlan.Config{})
		segB := memlan.NewSegment(memlan.Config{})
		s, _ := ipx.NewStack(ipx.StackConfig{})
		defer s.Close()
		idA := attach(t, s, segA, node(1), 1)
		idB := attach(t, s, segB, node(1), 2)
		peerA := host(t, segA, node(2), 1, ipx.StackConfig{})
		peerB := host(t, segB, node(3), 2, ipx.StackConfig{})
		c := listen(t, s, 0x4000)
		pa, pb := listen(t, peerA, 0x4000), listen(t, peerB, 0x4000)

		if err := s.RemoveLink(idA); err != nil {
			t.Fatal(err)
		}
		// Sockets keep working on the other link.
		if _, err := pb.WriteTo([]byte("b"), ipx.Addr{Net: 2, Node: node(1), Socket: 0x4000}); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 8)
		if n, _, err := c.ReadFrom(buf); err != nil || string(buf[:n]) != "b" {
			t.Fatalf("read after RemoveLink: %q, %v", buf[:n], err)
		}
		if _, err := c.WriteTo([]byte("to b"), ipx.Addr{Net: 2, Node: node(3), Socket: 0x4000}); err != nil {
			t.Fatal(err)
		}
		if n, _, err := pb.ReadFrom(buf); err != nil || string(buf[:n]) != "to b" {
			t.Fatalf("peer read: %q, %v", buf[:n], err)
		}
		// The removed network is gone; nothing from it arrives.
		if _, err := c.WriteTo([]byte("x"), ipx.Addr{Net: 1, Node: node(2), Socket: 0x4000}); !errors.Is(err, ipx.ErrNoRoute) {
			t.Fatalf("send to a removed network: %v", err)
		}
		pa.WriteTo([]byte("a"), ipx.Addr{Net: 1, Node: node(1), Socket: 0x4000})
		synctest.Wait()
		if got := s.Stats().Received; got != 1 {
			t.Fatalf("Received = %d after removal, want 1", got)
		}
		if got := s.Stats().LinkReadFailure; got != 0 {
			t.Fatalf("a removal counted as a failure: %d", got)
		}

		// Unknown or already removed IDs.
		for _, id := range []ipx.LinkID{idA, 0, 99} {
			if err := s.RemoveLink(id); !errors.Is(err, ipx.ErrNoLink) {
				t.Fatalf("RemoveLink(%d): %v", id, err)
			}
		}
		// IDs are never reused: the next link gets a new one.
		idC := attach(t, s, segA, node(1), 1)
		if idC == idA || idC == idB {
			t.Fatalf("reused LinkID %d", idC)
		}
		// Routes name links by ID: one via the new link works.
		if _, err := c.WriteMsg([]byte("a"), ipx.Addr{Net: 1, Node: node(2), Socket: 0x4000}, ipx.WriteOptions{Link: idC}); err != nil {
			t.Fatal(err)
		}
		if n, _, err := pa.ReadFrom(buf); err != nil || string(buf[:n]) != "a" {
			t.Fatalf("peer read via new link: %q, %v", buf[:n], err)
		}
		if _, err := c.WriteMsg([]byte("a"), ipx.Addr{Net: 1, Node: node(2), Socket: 0x4000}, ipx.WriteOptions{Link: idA}); !errors.Is(err, ipx.ErrNoRoute) {
			t.Fatalf("send via a removed link: %v", err)
		}
		s.Close()
		if err := s.RemoveLink(idB); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("RemoveLink after Close: %v", err)
		}
		// synctest.Test fails if a read goroutine is left.
	})
}

// Removing the last live link, when the others have failed, is "all
// links down"; removing every link is not (a Stack without links, as new).
func TestRemoveLinkDownState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		s, _ := ipx.NewStack(ipx.StackConfig{})
		defer s.Close()
		l, _ := seg.Attach(node(1))
		failing, _ := s.AddLink(l, 1)
		live := attach(t, s, seg, node(5), 2)
		ch := s.LinksChanged()
		l.Close()
		<-ch
		c := listen(t, s, 0)
		if isDone(c.Done()) {
			t.Fatal("done with one live link")
		}
		s.RemoveLink(live)
		<-c.Done()
		if !errors.Is(c.Err(), ipx.ErrLinkDown) {
			t.Fatalf("Err = %v", c.Err())
		}
		s.RemoveLink(failing)
		if c2 := listen(t, s, 0); isDone(c2.Done()) {
			t.Fatalf("a Stack without links ends new sockets: %v", c2.Err())
		}
	})
}

// Links added and removed while sockets send and a watcher follows
// LinksChanged: no race (under -race), no stale ID reused, and the
// watcher sees the final link set.
func TestLinksChurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := memlan.NewSegment(memlan.Config{})
		s, _ := ipx.NewStack(ipx.StackConfig{})
		defer s.Close()
		attach(t, s, seg, node(1), 1)
		c := listen(t, s, 0x4000)
		stop := make(chan struct{})
		sent := make(chan struct{})
		go func() { // a sender on the stable link
			defer close(sent)
			for !isDone(stop) {
				c.WriteTo([]byte("x"), ipx.Addr{Net: 1, Node: node(2), Socket: 0x4000})
				c.WriteTo([]byte("x"), ipx.Addr{Net: 7, Node: node(2), Socket: 0x4000})
				time.Sleep(time.Millisecond) // fake time: lets the churn run
			}
		}()
		watched := make(chan []ipx.LinkInfo)
		go func() { // a watcher that wants to see the end state
			for {
				ch := s.LinksChanged()
				links := s.Links()
				select {
				case <-ch:
				case <-stop:
					watched <- links
					return
				}
			}
		}()
		seen := map[ipx.LinkID]bool{}
		for i := range 50 {
			l, _ := seg.Attach(node(byte(10 + i%2)))
			id, err := s.AddLink(l, 7)
			if err != nil {
				t.Fatal(err)
			}
			if seen[id] {
				t.Fatalf("LinkID %d reused", id)
			}
			seen[id] = true
			if err := s.RemoveLink(id); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		close(stop)
		<-sent
		if links := <-watched; len(links) != 1 || links[0].Network != 1 {
			t.Fatalf("watcher ends with %+v", links)
		}
	})
}
