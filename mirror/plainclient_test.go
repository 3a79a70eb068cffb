package mirror_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/mirrortest"
	"github.com/ipxkit/ipxkit/rip"
)

// A client with nothing but a Stack and a listen-only RIP router, which
// retries a request with the same id until a reply comes, survives a
// failover: for it the switch is only a route change.
func TestPlainClientSurvivesFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mirrored(t, mirrortest.PairConfig{})
		st, err := ipx.NewStack(ipx.StackConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		l, err := p.LAN.Attach(mirrortest.Node(30))
		if err != nil {
			t.Fatal(err)
		}
		st.AddLink(l, mirrortest.LANNet)
		r, err := rip.NewRouter(st, rip.Config{ListenOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		conn, err := st.Listen(0)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		buf := make([]byte, ipx.MaxPacketLen)
		call := func(id uint64, req []byte) string {
			t.Helper()
			pkt, _ := (&mirror.Message{Kind: mirror.KindRequest, Client: 77, ID: id, Data: req}).MarshalBinary()
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				conn.WriteMsg(pkt, p.Addr, ipx.WriteOptions{Type: mirror.PacketType})
				conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				for {
					n, _, err := conn.ReadMsg(buf)
					if err != nil {
						break
					}
					var m mirror.Message
					if m.UnmarshalBinary(buf[:n]) == nil && m.Kind == mirror.KindReply && m.ID == id {
						_, v, _ := mirrortest.ParseReply(m.Data)
						return v
					}
				}
			}
			t.Fatalf("request %d: no reply", id)
			return ""
		}
		call(1, mirrortest.Put("a", "1"))
		p.Crash(p.A)
		call(2, mirrortest.Put("b", "2"))
		if v := call(3, mirrortest.Get("a")); v != "1" {
			t.Fatalf("a = %q after failover", v)
		}
		if rt, ok := r.Table().Lookup(mirrortest.InternalNet); !ok || rt.NextHop != p.B.Node {
			t.Fatalf("route %+v, want via B", rt)
		}
	})
}
