package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestRunMemlan(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		status int
		want   []string
	}{
		{
			name:   "replies",
			args:   []string{"-link", "memlan", "-c", "3", "-i", "10ms", "-delay", "5ms"},
			status: 0,
			want: []string{
				"PING 00000001:020000000002:9086: 56 bytes (10-byte ping header, 16 data)\n",
				"56 bytes from 00000001:020000000002:9086: id=0 hops=0 time=10.000 ms\n",
				"56 bytes from 00000001:020000000002:9086: id=2 hops=0 time=10.000 ms\n",
				"3 packets transmitted, 3 received, 0.0% packet loss\n",
				"rtt min/avg/max/mdev = 10.000/10.000/10.000/0.000 ms\n",
			},
		},
		{
			name:   "all lost",
			args:   []string{"-link", "memlan", "-c", "2", "-loss", "1", "-W", "200ms"},
			status: 1,
			want: []string{
				"request timeout for id=0\n",
				"request timeout for id=1\n",
				"2 packets transmitted, 0 received, 100.0% packet loss\n",
			},
		},
		{
			name:   "some lost",
			args:   []string{"-link", "memlan", "-c", "20", "-i", "1ms", "-loss", "0.3", "-W", "5ms"},
			status: 0,
			want:   []string{"20 packets transmitted, "},
		},
		{
			name:   "other network, explicit target and size",
			args:   []string{"-net", "ab", "-c", "1", "-s", "100", "000000ab:020000000002"},
			status: 0,
			want:   []string{"100 bytes from 000000ab:020000000002:9086: id=0"},
		},
		{
			name:   "nobody there",
			args:   []string{"-c", "1", "-W", "50ms", "00000001:020000000009:9086"},
			status: 1,
			want:   []string{"request timeout for id=0\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var out, errb bytes.Buffer
				if got := run(context.Background(), tt.args, &out, &errb); got != tt.status {
					t.Errorf("status %d, want %d; stderr: %s", got, tt.status, errb.String())
				}
				for _, w := range tt.want {
					if !strings.Contains(out.String(), w) {
						t.Errorf("output lacks %q:\n%s", w, out.String())
					}
				}
			})
		})
	}
}

func TestRunInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var out, errb bytes.Buffer
		done := make(chan int)
		go func() { done <- run(ctx, []string{"-link", "memlan", "-delay", "1ms"}, &out, &errb) }()
		// Count 0 pings until interrupted: let three go by on the fake
		// clock (one a second), then interrupt while waiting for the 4th.
		time.Sleep(2500 * time.Millisecond)
		cancel()
		if got := <-done; got != 0 {
			t.Errorf("status %d, want 0; stderr %s", got, errb.String())
		}
		if !strings.Contains(out.String(), "3 packets transmitted, 3 received") {
			t.Errorf("no summary after interrupt:\n%s", out.String())
		}
	})
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		status int
		want   string
	}{
		{"help", []string{"-h"}, 0, "usage: ipxping"},
		{"bad link", []string{"-link", "carrier-pigeon"}, 1, "want memlan, udp or ether"},
		{"ether without interface", []string{"-link", "ether"}, 1, "needs -I"},
		{"ether bad frame", []string{"-link", "ether", "-I", "lo", "-frame", "token-ring"}, 1, "want auto, ethernet_ii"},
		{"ether no such interface", []string{"-link", "ether", "-I", "ipxping-none0"}, 1, "ipxping-none0"},
		{"bad address", []string{"zz:yy"}, 2, "bad address"},
		{"small size", []string{"-s", "39"}, 2, "size must be 40..576"},
		{"bad net", []string{"-net", "xyz"}, 2, "not hex"},
		{"loss on udp", []string{"-link", "udp", "-loss", "0.1"}, 2, "memlan only"},
		{"two addresses", []string{"1:020000000001", "1:020000000002"}, 2, "one address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if got := run(context.Background(), tt.args, &out, &errb); got != tt.status {
				t.Errorf("status %d, want %d", got, tt.status)
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, errb.String())
			}
		})
	}
}
