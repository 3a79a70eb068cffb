package linkflag

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/memlan"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

func TestParseFrame(t *testing.T) {
	tests := []struct {
		in      string
		want    ipx.FrameType
		wantErr bool
	}{
		{"auto", 0, false},
		{"ethernet_ii", ipx.FrameEthernetII, false},
		{"Ethernet_II", ipx.FrameEthernetII, false},
		{"802.3", ipx.Frame8023Raw, false},
		{"802.2", ipx.Frame8022, false},
		{"SNAP", ipx.FrameSNAP, false},
		{"token-ring", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFrame(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadFrame) || !strings.Contains(err.Error(), `frame "`+tt.in+`"`) {
					t.Errorf("ParseFrame(%q) error %v, want ErrBadFrame naming the input", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseFrame(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseNetwork(t *testing.T) {
	tests := []struct {
		in   string
		want ipx.Network
		why  string // in the error; "" for success
	}{
		{"1", 1, ""},
		{"beef", 0xbeef, ""},
		{"0000BEEF", 0xbeef, ""},
		{"0xbeef", 0xbeef, ""},
		{"0Xbeef", 0xbeef, ""},
		{"ffffffff", 0xffffffff, ""},
		{"100000000", 0, "over 32 bits"},
		{"xyz", 0, "not hex"},
		{"-1", 0, "not hex"},
		{"0x", 0, "not hex"},
		{"", 0, "not hex"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseNetwork(tt.in)
			if tt.why != "" {
				if !errors.Is(err, ErrBadNetwork) || !strings.Contains(err.Error(), tt.why) ||
					!strings.Contains(err.Error(), `network "`+tt.in+`"`) {
					t.Errorf("ParseNetwork(%q) error %v, want ErrBadNetwork, %q and the input", tt.in, err, tt.why)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseNetwork(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestRegisterAndChoose(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Link
		wantErr bool
	}{
		{"demo", []string{"-memlan-demo"}, Link{Kind: Demo, Frame: "auto", Network: 1, demo: true}, false},
		{"demo on another network", []string{"-memlan-demo", "-net", "0xabc"},
			Link{Kind: Demo, Frame: "auto", Network: 0xabc, demo: true}, false},
		{"udp", []string{"-udp-server", "127.0.0.1:213"}, Link{Kind: UDP, Server: "127.0.0.1:213", Frame: "auto", Network: 1}, false},
		{"ether", []string{"-ether", "eth0", "-frame", "802.2", "-net", "b"},
			Link{Kind: Ether, Iface: "eth0", Frame: "802.2", Network: 0xb}, false},
		{"none", nil, Link{}, true},
		{"two", []string{"-memlan-demo", "-ether", "eth0"}, Link{}, true},
		{"three", []string{"-memlan-demo", "-ether", "eth0", "-udp-server", "x"}, Link{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Link
			fs := NewFlagSet("test", "", io.Discard)
			l.Register(fs, "demo")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := l.Choose()
			if tt.wantErr {
				if !errors.Is(err, ErrChoice) || l.Kind != None {
					t.Errorf("Choose = %v with Kind %v; want ErrChoice and None", err, l.Kind)
				}
				return
			}
			if err != nil || l != tt.want {
				t.Errorf("Choose = %v, link %+v; want %+v", err, l, tt.want)
			}
		})
	}
}

func TestBadNetworkFlag(t *testing.T) {
	var l Link
	var out bytes.Buffer
	fs := NewFlagSet("test", "usage: test\n", &out)
	l.Register(fs, "demo")
	err := fs.Parse([]string{"-net", "zz"})
	if err == nil || !strings.Contains(err.Error(), ErrBadNetwork.Error()) {
		t.Errorf("Parse error %v, want one saying %q", err, ErrBadNetwork)
	}
	// flag prints the error, then the usage.
	if !strings.Contains(out.String(), "for flag -net: network \"zz\"") || !strings.Contains(out.String(), "usage: test\n") {
		t.Errorf("usage printed:\n%s", out.String())
	}
}

func TestUsage(t *testing.T) {
	var l Link
	var out bytes.Buffer
	fs := NewFlagSet("test", "usage: test [flags]\n\nFlags:\n", &out)
	l.Register(fs, "run the demo")
	if err := fs.Parse([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Parse(-h) = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{
		"usage: test [flags]\n\nFlags:\n",
		"-memlan-demo\n    \trun the demo\n",
		"-net network\n",
		"(default 00000001)",
		"-udp-server host:port\n",
		"-ether interface\n",
		"-frame type\n",
		`(default "auto")`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

// closeCounter is a Link that counts its Close calls.
type closeCounter struct {
	ipx.Link
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return c.Link.Close() }

func TestNewStack(t *testing.T) {
	seg := memlan.NewSegment(memlan.Config{})
	var nodes byte
	attach := func() *closeCounter {
		nodes++
		l, err := seg.Attach(ipx.Node{2, 0, 0, 0, 0, nodes})
		if err != nil {
			t.Fatal(err)
		}
		return &closeCounter{Link: l}
	}

	t.Run("ok", func(t *testing.T) {
		l := attach()
		s, err := NewStack(l, 0xabc, ipx.StackConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if ls := s.Links(); len(ls) != 1 || ls[0].Network != 0xabc || ls[0].Node != l.Node() {
			t.Errorf("links %+v", ls)
		}
		s.Close()
		if l.closed != 1 {
			t.Errorf("link closed %d times by Stack.Close, want 1", l.closed)
		}
	})
	t.Run("bad config closes the link", func(t *testing.T) {
		l := attach()
		if _, err := NewStack(l, 1, ipx.StackConfig{QueueLen: -1}); err == nil {
			t.Fatal("no error for a negative QueueLen")
		}
		if l.closed != 1 {
			t.Errorf("link closed %d times, want 1", l.closed)
		}
	})
}

func TestOpenUDP(t *testing.T) {
	srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	l := Link{Kind: UDP, Server: srv.Addr().String(), Network: 0x99}
	s, err := l.Open(context.Background(), ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The tunnel server numbers the segment, not -net.
	ls := s.Links()
	if len(ls) != 1 || ls[0].Network == 0x99 || ls[0].Node == (ipx.Node{}) {
		t.Errorf("links %+v, want one numbered by the server", ls)
	}
	if got := srv.Stats().Clients; got != 1 {
		t.Errorf("server has %d clients, want 1", got)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		link Link
		want string
	}{
		{"none", Link{}, "cannot open link none"},
		{"demo", Link{Kind: Demo}, "cannot open link -memlan-demo"},
		{"ether without interface", Link{Kind: Ether, Frame: "auto"}, "needs an interface"},
		{"ether bad frame", Link{Kind: Ether, Iface: "lo", Frame: "token-ring"}, `-frame "token-ring": unknown frame type (want auto,`},
		{"ether no such interface", Link{Kind: Ether, Iface: "linkflag-none0", Frame: "auto"}, "linkflag-none0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.link.Open(context.Background(), ipx.StackConfig{})
			if err == nil {
				s.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
	if runtime.GOOS != "linux" {
		t.Log("raw Ethernet is Linux only; the ether cases checked its error")
	}
}
