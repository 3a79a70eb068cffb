package linkflag

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
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
		{"fffffffd", 0xfffffffd, ""},
		{"ffffffff", 0, "every network"},
		{"fffffffe", 0, "default route"},
		{"0", 0, "this network"},
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
		want    Link   // Kind, Server, Iface, Frame, Network
		wantErr string // in the error of Parse or Choose
	}{
		{"demo", []string{"-memlan-demo"}, Link{Kind: Demo, Network: 1}, ""},
		{"demo on another network", []string{"-memlan-demo", "-net", "0xabc"}, Link{Kind: Demo, Network: 0xabc}, ""},
		{"udp", []string{"-udp-server", "127.0.0.1:213"}, Link{Kind: UDP, Server: "127.0.0.1:213", Network: 1}, ""},
		{"ether", []string{"-ether", "eth0"}, Link{Kind: Ether, Iface: "eth0", Network: 1}, ""},
		{"ether with frame", []string{"-ether", "eth0:802.2", "-net", "b"}, Link{Kind: Ether, Iface: "eth0", Frame: ipx.Frame8022, Network: 0xb}, ""},
		{"ether with frame and net", []string{"-ether", "eth0:snap:c"}, Link{Kind: Ether, Iface: "eth0", Frame: ipx.FrameSNAP, Network: 0xc}, ""},
		{"ether and the same -net", []string{"-ether", "eth0:snap:c", "-net", "c"}, Link{Kind: Ether, Iface: "eth0", Frame: ipx.FrameSNAP, Network: 0xc}, ""},
		{"ether and another -net", []string{"-ether", "eth0:snap:c", "-net", "d"}, Link{}, "disagree"},
		{"ether bad frame", []string{"-ether", "eth0:token-ring"}, Link{}, `frame "token-ring": unknown frame type`},
		{"ether bad net", []string{"-ether", "eth0:auto:ffffffff"}, Link{}, "every network"},
		{"ether too many parts", []string{"-ether", "eth0:auto:1:2"}, Link{}, "want IFACE[:frame[:net]]"},
		{"ether no interface", []string{"-ether", ":auto"}, Link{}, "want IFACE[:frame[:net]]"},
		{"udp with -net", []string{"-udp-server", "x", "-net", "5"}, Link{}, "the tunnel server numbers"},
		{"frame is part of -ether", []string{"-memlan-demo", "-frame", "foo"}, Link{}, "not defined: -frame"},
		{"none", nil, Link{}, ErrChoice.Error()},
		{"two", []string{"-memlan-demo", "-ether", "eth0"}, Link{}, ErrChoice.Error()},
		{"three", []string{"-memlan-demo", "-ether", "eth0", "-udp-server", "x"}, Link{}, ErrChoice.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Link
			fs := NewFlagSet("test", "")
			l.Register(fs, "demo")
			err := fs.Parse(tt.args)
			if err == nil {
				err = l.Choose()
				if err != nil && !errors.Is(err, ErrUsage) {
					t.Errorf("Choose error %v does not wrap ErrUsage", err)
				}
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || l.Kind != None {
					t.Errorf("error %v with Kind %v; want one saying %q and None", err, l.Kind, tt.wantErr)
				}
				if tt.wantErr == ErrChoice.Error() && !errors.Is(err, ErrChoice) {
					t.Errorf("error %v is not ErrChoice", err)
				}
				return
			}
			got := Link{Kind: l.Kind, Server: l.Server, Iface: l.Iface, Frame: l.Frame, Network: l.Network}
			if err != nil || got != tt.want {
				t.Errorf("Choose = %v, link %+v; want %+v", err, got, tt.want)
			}
		})
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in   string
		def  ipx.Socket
		want string // the address, or what the error says
		ok   bool
	}{
		{"1:020000000001:4000", 0, "00000001:020000000001:4000", true},
		{"1:020000000001", 0x9086, "00000001:020000000001:9086", true},
		{"1:020000000001:4000", 0x9086, "00000001:020000000001:4000", true},
		{"0:7f0000015334:9086", 0x9086, "00000000:7f0000015334:9086", true},
		{"1:02:00:00:00:00:01", 0x9086, "00000001:020000000001:9086", true},
		{"1:02-00-00-00-00-01:5", 0, "00000001:020000000001:0005", true},
		{"1:020000000001", 0, `socket "" is not 1 to 4 hex digits`, false},
		{"nope", 0x9086, "want network:node[:socket]", false},
		{"nope", 0, "want network:node:socket", false},
		{"123456789:020000000001", 1, `network "123456789" is not 1 to 8 hex digits`, false},
		{"1:zz", 1, `node "zz" is not 12 hex digits`, false},
		{"1:020000000001:12345", 1, `socket "12345" is not 1 to 4 hex digits`, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := ParseAddr(tt.in, tt.def)
			if !tt.ok {
				if !errors.Is(err, ErrBadAddr) || !strings.Contains(err.Error(), tt.want) ||
					!strings.Contains(err.Error(), `address "`+tt.in+`"`) {
					t.Errorf("ParseAddr(%q) error %v, want ErrBadAddr quoting the input and saying %q", tt.in, err, tt.want)
				}
				return
			}
			if err != nil || a.String() != tt.want {
				t.Errorf("ParseAddr(%q) = %v, %v; want %s", tt.in, a, err, tt.want)
			}
		})
	}
}

func TestUsageOnce(t *testing.T) {
	var l Link
	fs := NewFlagSet("test", "usage: test\n")
	l.Register(fs, "demo")
	err := fs.Parse([]string{"-net", "zz"})
	if err == nil || !strings.Contains(err.Error(), ErrBadNetwork.Error()) {
		t.Errorf("Parse error %v, want one saying %q", err, ErrBadNetwork)
	}
	var out bytes.Buffer
	if got := Usage(&out, fs, err); got != 2 {
		t.Errorf("Usage returned %d, want 2", got)
	}
	want := "test: invalid value \"zz\" for flag -net: network \"zz\": not a segment's network number (not hex)\nRun 'test -h' for usage.\n"
	if out.String() != want {
		t.Errorf("Usage printed\n%q\nwant\n%q", out.String(), want)
	}
}

func TestUsage(t *testing.T) {
	var l Link
	fs := NewFlagSet("test", "usage: test [flags]\n\nFlags:\n")
	l.Register(fs, "run the demo")
	err := fs.Parse([]string{"-h"})
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Parse(-h) = %v, want flag.ErrHelp", err)
	}
	var out bytes.Buffer
	if got := Usage(&out, fs, err); got != 0 {
		t.Errorf("Usage(-h) returned %d, want 0", got)
	}
	for _, want := range []string{
		"usage: test [flags]\n\nFlags:\n",
		"-memlan-demo\n    \trun the demo\n",
		"-net network\n",
		"(default 00000001)",
		"-udp-server host:port\n",
		"-ether IFACE[:frame[:net]]\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBindError(t *testing.T) {
	err := BindError("127.0.0.1:213", &net.OpError{Op: "listen", Net: "udp", Err: os.NewSyscallError("bind", syscall.EACCES)})
	if !errors.Is(err, syscall.EACCES) || !strings.Contains(err.Error(), "choose another, e.g. 127.0.0.1:21300") {
		t.Errorf("BindError = %v", err)
	}
	other := errors.New("address in use")
	if got := BindError("127.0.0.1:213", other); got != other {
		t.Errorf("BindError changed %v to %v", other, got)
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
		{"ether without interface", Link{Kind: Ether}, "needs an interface"},
		{"ether no such interface", Link{Kind: Ether, Iface: "linkflag-none0"}, "linkflag-none0"},
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
