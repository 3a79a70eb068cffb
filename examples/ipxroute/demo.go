package main

import (
	"context"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/rip"
)

// demoNet is the -memlan-demo world: this router joins networks 1 and 2;
// router B joins 2 and 3, router C joins 3 and 4. After 90 s router C
// shuts down, and its network 4 is withdrawn.
type demoNet struct {
	stacks  []*ipx.Stack
	routers []*rip.Router
	c       *rip.Router
}

func demoNode(id byte) ipx.Node { return ipx.Node{2, 0, 0, 0, 0, id} }

func startDemo(stack *ipx.Stack, interval time.Duration) (*demoNet, error) {
	segs := map[ipx.Network]*memlan.Segment{}
	for n := ipx.Network(1); n <= 4; n++ {
		segs[n] = memlan.NewSegment(memlan.Config{Seed: uint64(n)})
	}
	attach := func(s *ipx.Stack, id byte, nets ...ipx.Network) error {
		for _, n := range nets {
			l, err := segs[n].Attach(demoNode(id))
			if err != nil {
				return err
			}
			if _, err := s.AddLink(l, n); err != nil {
				return err
			}
		}
		return nil
	}
	if err := attach(stack, 1, 1, 2); err != nil {
		return nil, err
	}
	d := &demoNet{}
	for _, peer := range []struct {
		id   byte
		nets []ipx.Network
	}{{2, []ipx.Network{2, 3}}, {3, []ipx.Network{3, 4}}} {
		s, err := ipx.NewStack(ipx.StackConfig{Forward: true})
		if err != nil {
			d.close()
			return nil, err
		}
		d.stacks = append(d.stacks, s)
		if err := attach(s, peer.id, peer.nets...); err != nil {
			d.close()
			return nil, err
		}
		r, err := rip.NewRouter(s, rip.Config{UpdateInterval: interval})
		if err != nil {
			d.close()
			return nil, err
		}
		d.routers = append(d.routers, r)
	}
	d.c = d.routers[1]
	return d, nil
}

// script shuts router C down after 90 s.
func (d *demoNet) script(ctx context.Context) {
	t := time.NewTimer(90 * time.Second)
	defer t.Stop()
	select {
	case <-t.C:
		d.c.Close()
	case <-ctx.Done():
	}
}

func (d *demoNet) close() {
	for _, r := range d.routers {
		r.Close()
	}
	for _, s := range d.stacks {
		s.Close()
	}
}
