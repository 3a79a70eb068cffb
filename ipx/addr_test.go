package ipx

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseAddr(t *testing.T) {
	node := Node{0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
	tests := []struct {
		name string
		in   string
		want Addr
		bad  bool
	}{
		{name: "canonical", in: "00000001:0a0b0c0d0e0f:0451", want: Addr{1, node, SocketNCP}},
		{name: "colon node", in: "00000001:0a:0b:0c:0d:0e:0f:0451", want: Addr{1, node, SocketNCP}},
		{name: "dash node", in: "00000001:0a-0b-0c-0d-0e-0f:0451", want: Addr{1, node, SocketNCP}},
		{name: "upper case", in: "DEADBEEF:0A0B0C0D0E0F:4001", want: Addr{0xdeadbeef, node, 0x4001}},
		{name: "short network and socket", in: "1:0a0b0c0d0e0f:2", want: Addr{1, node, 2}},
		{name: "broadcast", in: "ffffffff:ffffffffffff:ffff", want: Addr{0xffffffff, NodeBroadcast, 0xffff}},
		{name: "zero", in: "0:000000000000:0", want: Addr{}},
		{name: "empty", in: "", bad: true},
		{name: "one colon", in: "1:0a0b0c0d0e0f", bad: true},
		{name: "no colon", in: "000000010a0b0c0d0e0f0451", bad: true},
		{name: "empty network", in: ":0a0b0c0d0e0f:0451", bad: true},
		{name: "empty socket", in: "1:0a0b0c0d0e0f:", bad: true},
		{name: "network too long", in: "000000001:0a0b0c0d0e0f:0451", bad: true},
		{name: "socket too long", in: "1:0a0b0c0d0e0f:00451", bad: true},
		{name: "node short", in: "1:0a0b0c0d0e:0451", bad: true},
		{name: "node long", in: "1:0a0b0c0d0e0f00:0451", bad: true},
		{name: "node not hex", in: "1:0a0b0c0d0e0g:0451", bad: true},
		{name: "mixed separators", in: "1:0a:0b-0c:0d:0e:0f:0451", bad: true},
		{name: "dot separators", in: "1:0a.0b.0c.0d.0e.0f:0451", bad: true},
		{name: "misplaced colons", in: "1:0a0:b0c:0d:0e:0f:0451", bad: true},
		{name: "network sign", in: "+1:0a0b0c0d0e0f:0451", bad: true},
		{name: "network prefix", in: "0x1:0a0b0c0d0e0f:0451", bad: true},
		{name: "socket sign", in: "1:0a0b0c0d0e0f:-1", bad: true},
		{name: "network not hex", in: "xyz:0a0b0c0d0e0f:0451", bad: true},
		{name: "spaces", in: " 1:0a0b0c0d0e0f:0451", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAddr(tt.in)
			if tt.bad {
				if !errors.Is(err, ErrBadAddr) {
					t.Fatalf("ParseAddr(%q) = %v, %v; want error wrapping ErrBadAddr", tt.in, got, err)
				}
				if got != (Addr{}) {
					t.Errorf("ParseAddr(%q) returned %v with the error; want zero Addr", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAddr(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseAddr(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseNode(t *testing.T) {
	want := Node{0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc}
	for _, s := range []string{"001b21aabbcc", "00:1b:21:aa:bb:cc", "00-1B-21-AA-BB-CC"} {
		got, err := ParseNode(s)
		if err != nil || got != want {
			t.Errorf("ParseNode(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "001b21aabb", "00:1b:21:aa:bb:cc:", "00:1b:21-aa:bb:cc", "00:1b:21:aa:bb:zz", "001b21aabbcc00"} {
		got, err := ParseNode(s)
		if !errors.Is(err, ErrBadAddr) || got != (Node{}) {
			t.Errorf("ParseNode(%q) = %v, %v; want zero node and ErrBadAddr", s, got, err)
		}
	}
}

func TestAddrString(t *testing.T) {
	tests := []struct {
		a    Addr
		want string
	}{
		{Addr{}, "00000000:000000000000:0000"},
		{Addr{1, Node{0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}, SocketNCP}, "00000001:0a0b0c0d0e0f:0451"},
		{Addr{0xDEADBEEF, NodeBroadcast, 0xFFFF}, "deadbeef:ffffffffffff:ffff"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.a.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := tt.a.Network(); got != "ipx" {
				t.Errorf("Network() = %q, want ipx", got)
			}
			back, err := ParseAddr(tt.want)
			if err != nil || back != tt.a {
				t.Errorf("ParseAddr(String()) = %v, %v; want %v", back, err, tt.a)
			}
		})
	}
}

func TestPartStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{Network(0x1234).String(), "00001234"},
		{NetworkAll.String(), "ffffffff"},
		{Node{1, 2, 3, 4, 5, 6}.String(), "010203040506"},
		{Socket(0x453).String(), "0453"},
		{PacketType(5).String(), "SPX"},
		{PacketType(99).String(), "type(99)"},
		{Node{1, 2, 3, 4, 5, 6}.HardwareAddr().String(), "01:02:03:04:05:06"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if !NodeBroadcast.IsBroadcast() || (Node{1}).IsBroadcast() {
		t.Error("IsBroadcast wrong")
	}
	for s, want := range map[Socket]bool{0x3fff: false, 0x4000: true, 0x7fff: true, 0x8000: false} {
		if s.IsDynamic() != want {
			t.Errorf("Socket(%#x).IsDynamic() = %v", uint16(s), !want)
		}
	}
}

func TestAddrText(t *testing.T) {
	a := Addr{0x00C0FFEE, Node{2, 0, 0, 0, 0, 7}, 0x4003}
	b, err := a.MarshalText()
	if err != nil || string(b) != "00c0ffee:020000000007:4003" {
		t.Fatalf("MarshalText = %q, %v", b, err)
	}
	var back Addr
	if err := back.UnmarshalText(b); err != nil || back != a {
		t.Fatalf("UnmarshalText(%q) = %v, %v; want %v", b, back, err, a)
	}
	// Through encoding/json, which uses the text methods.
	j, err := json.Marshal(map[string]Addr{"a": a})
	if err != nil || string(j) != `{"a":"00c0ffee:020000000007:4003"}` {
		t.Fatalf("json.Marshal = %s, %v", j, err)
	}
	var m map[string]Addr
	if err := json.Unmarshal(j, &m); err != nil || m["a"] != a {
		t.Fatalf("json.Unmarshal = %v, %v", m, err)
	}
	// A failed UnmarshalText leaves the value alone.
	keep := a
	if err := keep.UnmarshalText([]byte("junk")); !errors.Is(err, ErrBadAddr) || keep != a {
		t.Errorf("UnmarshalText(junk) = %v, value %v; want ErrBadAddr and %v unchanged", err, keep, a)
	}
	// AppendText appends.
	out, _ := a.AppendText([]byte("x="))
	if string(out) != "x=00c0ffee:020000000007:4003" {
		t.Errorf("AppendText = %q", out)
	}
}
