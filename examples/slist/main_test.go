package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/linkflag"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
	"github.com/ipxkit/ipxkit/sap"
)

func TestRunMemlanDemo(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		status int
		want   []string
		absent []string
	}{
		{
			name:   "file servers",
			args:   []string{"-memlan-demo"},
			status: 0,
			want: []string{
				"Known NetWare File Servers\n",
				"ACCOUNTING                                       00000001  020000000020     1\n",
				"ENGINEERING                                      00000001  020000000021     1\n",
				// Behind the router, one hop further.
				"WAREHOUSE                                        00000002  020000000030     2\n",
				"Total of 3 servers found\n",
			},
			absent: []string{"LASER-2"},
		},
		{
			name:   "print servers on another network number",
			args:   []string{"-memlan-demo", "-type", "7", "-net", "abc"},
			status: 0,
			want:   []string{"LASER-2                                          00000abc  020000000021     1\n", "Total of 1 server found\n"},
		},
		{
			name:   "every type",
			args:   []string{"-memlan-demo", "-type", "ffff"},
			status: 0,
			want:   []string{"LASER-2 (0007)", "WAREHOUSE (0004)", "Total of 4 servers found\n"},
		},
		{
			name:   "nearest",
			args:   []string{"-memlan-demo", "-nearest", "-type", "0x0007"},
			status: 0,
			want:   []string{"LASER-2 ", "Total of 1 server found\n"},
		},
		{
			name:   "none of that type",
			args:   []string{"-memlan-demo", "-type", "9", "-wait", "100ms", "-attempts", "2"},
			status: 1,
			want:   []string{"No servers of type 0009 found\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				status := run(context.Background(), tt.args, &stdout, &stderr)
				if status != tt.status {
					t.Fatalf("status %d, want %d; stderr %s", status, tt.status, stderr.String())
				}
				out := stdout.String()
				for _, w := range tt.want {
					if !strings.Contains(out, w) {
						t.Errorf("output lacks %q:\n%s", w, out)
					}
				}
				for _, a := range tt.absent {
					if strings.Contains(out, a) {
						t.Errorf("output has %q:\n%s", a, out)
					}
				}
			})
		})
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		status int
		want   string
	}{
		{"help", []string{"-h"}, 0, "usage: slist [flags]"},
		{"no link", nil, 2, "choose one link"},
		{"two links", []string{"-memlan-demo", "-udp-server", "x:1"}, 2, "choose one link"},
		{"bad type", []string{"-memlan-demo", "-type", "12345"}, 2, `"12345" is not a service type`},
		{"type 0", []string{"-memlan-demo", "-type", "0"}, 2, `"0" is not a service type`},
		{"bad net", []string{"-memlan-demo", "-net", "zz"}, 2, "not a segment's network number (not hex)"},
		{"every network", []string{"-memlan-demo", "-net", "ffffffff"}, 2, "ffffffff means every network"},
		{"demo's second network", []string{"-memlan-demo", "-net", "fffffffd"}, 2, "must be below fffffffe"},
		{"stray argument", []string{"-memlan-demo", "FS1"}, 2, "unexpected arguments"},
		{"bad frame", []string{"-ether", "lo:token-ring"}, 2, `frame "token-ring"`},
		{"frame is part of -ether", []string{"-memlan-demo", "-frame", "802.2"}, 2, "not defined: -frame"},
		{"zero wait", []string{"-memlan-demo", "-wait", "0"}, 2, "-wait 0s: must be positive"},
		{"no such interface", []string{"-ether", "slist-none0"}, 1, "slist-none0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if status := run(context.Background(), tt.args, &stdout, &stderr); status != tt.status {
				t.Fatalf("status %d, want %d; stderr %s", status, tt.status, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("stderr lacks %q:\n%s", tt.want, stderr.String())
			}
			if tt.status == 2 && strings.Count(stderr.String(), "slist: ") != 1 {
				t.Errorf("usage error told more than once:\n%s", stderr.String())
			}
		})
	}
}

// TestRunUDP lists a server reached through a real tunnel server on
// loopback.
func TestRunUDP(t *testing.T) {
	srv, err := udp.ListenServer("127.0.0.1:0", udp.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := udp.Dial(ctx, srv.Addr().String(), udp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := linkflag.NewStack(l, l.Network(), ipx.StackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, err := sap.NewAdvertiser(s, sap.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Add(sap.Entry{Type: sap.TypeFileServer, Name: sap.MustName("TUNNEL-FS"), Addr: ipx.Addr{Socket: ipx.SocketNCP}, Hops: 1}); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if status := run(ctx, []string{"-udp-server", srv.Addr().String()}, &stdout, &stderr); status != 0 {
		t.Fatalf("status %d; stderr %s; stdout %s", status, stderr.String(), stdout.String())
	}
	want := "TUNNEL-FS                                        " + l.Network().String() + "  " + l.Node().String() + "     1\n"
	if !strings.Contains(stdout.String(), want) {
		t.Fatalf("output lacks %q:\n%s", want, stdout.String())
	}
}
