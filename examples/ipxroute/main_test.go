package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/synctest"
)

func TestMemlanDemo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		status := run(context.Background(), []string{"-memlan-demo", "-duration", "3m"}, &stdout, &stderr)
		if status != 0 {
			t.Fatalf("status %d, stderr %s", status, stderr.String())
		}
		out := stdout.String()
		for _, want := range []string{
			"link 1: network 00000001 node 020000000001 mtu 1500\n",
			"link 2: network 00000002 node 020000000001 mtu 1500\n",
			"change 00000003: new, now 1 hops 1 ticks via link 2 node 020000000002\n",
			"change 00000004: new, now 2 hops 2 ticks via link 2 node 020000000002\n",
			"  00000004    2     2    2 020000000002 rip       0s\n",
			// Router C shuts down at 90 s and network 4 is withdrawn.
			"change 00000004: poisoned, now unreachable\n",
			"routing table at +1m30.1s, 4 routes:\n",
			"  00000004   16     2    2 020000000002 rip       0s\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if t.Failed() || testing.Verbose() {
			t.Logf("output:\n%s", out)
		}
	})
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"help", []string{"-h"}, 0, "usage: ipxroute"},
		{"no links", nil, 2, "no links"},
		{"extra argument", []string{"-memlan-demo", "x"}, 2, "unexpected arguments"},
		{"ether without a network", []string{"-ether", "eth0"}, 2, "a router numbers its segments: want IFACE:frame:net"},
		{"bad frame", []string{"-ether", "eth0:token-ring:1"}, 2, "frame \"token-ring\""},
		{"bad network", []string{"-ether", "eth0:802.2:xyz"}, 2, "network \"xyz\""},
		{"broadcast network", []string{"-udp-listen", "127.0.0.1:0/ffffffff"}, 2, "every network"},
		{"listen without a network", []string{"-udp-listen", "127.0.0.1:0"}, 2, "want host:port/net"},
		{"zero interval", []string{"-memlan-demo", "-interval", "0"}, 2, "-interval 0s: must be positive"},
		{"bad service", []string{"-memlan-demo", "-sap", "4:FS1"}, 2, `"4:FS1"`},
		{"no such interface", []string{"-ether", "ipxroute-none0:auto:1"}, 1, "ipxroute-none0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(context.Background(), tt.args, &stdout, &stderr); got != tt.status {
				t.Errorf("status %d, want %d", got, tt.status)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.stderr)
			}
			if tt.status == 2 && strings.Count(stderr.String(), "ipxroute: ") != 1 {
				t.Errorf("usage error told more than once:\n%s", stderr.String())
			}
		})
	}
}
