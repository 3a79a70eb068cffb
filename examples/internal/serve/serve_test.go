package serve

import (
	"errors"
	"strings"
	"testing"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/echo"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/sap"
)

func TestParseService(t *testing.T) {
	tests := []struct {
		in   string
		want string // the entry, or what the error says
		ok   bool
	}{
		{"4:FS1:0451", "0004 FS1 00000000:000000000000:0451 hops 1", true},
		{"0x7:LASER:8060", "0007 LASER 00000000:000000000000:8060 hops 1", true},
		{"26B:A:B:C:4000", "026b A:B:C 00000000:000000000000:4000 hops 1", true},
		{"4:FS1", "socket", false},
		{"4", ErrBadService.Error(), false},
		{"0:FS1:0451", `type "0"`, false},
		{"ffff:FS1:0451", `type "ffff"`, false},
		{"4:FS1:0", `socket "0"`, false},
		{"4::0451", "", false},
		{"zz:FS1:0451", `type "zz"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := ParseService(tt.in)
			if !tt.ok {
				if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"`+tt.in+`"`) {
					t.Errorf("ParseService(%q) error %v, want one quoting the input and saying %q", tt.in, err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := e.String(); !strings.Contains(got, strings.Fields(tt.want)[1]) || e.Hops != Hops {
				t.Errorf("ParseService(%q) = %v, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestRegisterRejectsDuplicates(t *testing.T) {
	var f Flags
	fs := linkflag.NewFlagSet("test", "")
	f.Register(fs)
	err := fs.Parse([]string{"-echo", "-sap", "4:FS1:451", "-sap", "4:FS1:452"})
	if err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("Parse = %v, want a duplicate service refused", err)
	}
}

// TestStart answers a ping and a SAP query on a memlan segment, and
// withdraws the service on Close.
func TestStart(t *testing.T) {
	seg := memlan.NewSegment(memlan.Config{})
	mk := func(n byte) *ipx.Stack {
		l, err := seg.Attach(ipx.Node{2, 0, 0, 0, 0, n})
		if err != nil {
			t.Fatal(err)
		}
		s, err := linkflag.NewStack(l, 1, ipx.StackConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	server, client := mk(1), mk(2)
	e, err := ParseService("4:FS1:0451")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := Start(server, Flags{Echo: true, SAP: []sap.Entry{e}}, false, sap.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if svc.Advertiser() == nil {
		t.Fatal("no Advertiser")
	}

	c, err := client.Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := echo.NewClient(c).Ping(ipx.Addr{Net: 1, Node: ipx.Node{2, 0, 0, 0, 0, 1}, Socket: echo.Socket}, 1, 8, 5e9); err != nil {
		t.Errorf("ping: %v", err)
	}
	rs, err := sap.Query(t.Context(), client, sap.TypeFileServer)
	if err != nil || len(rs) != 1 || rs[0].Name.String() != "FS1" || rs[0].Addr.Socket != 0x451 {
		t.Errorf("query = %v, %v; want FS1 on socket 0451", rs, err)
	}
	if err := svc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := sap.Query(t.Context(), client, sap.TypeFileServer); !errors.Is(err, sap.ErrNoService) {
		t.Errorf("query after Close = %v, want ErrNoService", err)
	}
}
