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
			args:   []string{"-memlan-demo", "-c", "3", "-i", "10ms", "-delay", "5ms"},
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
			args:   []string{"-memlan-demo", "-c", "2", "-loss", "1", "-W", "200ms"},
			status: 1,
			want: []string{
				"request timeout for id=0\n",
				"request timeout for id=1\n",
				"2 packets transmitted, 0 received, 100.0% packet loss\n",
			},
		},
		{
			name:   "some lost",
			args:   []string{"-memlan-demo", "-c", "20", "-i", "1ms", "-loss", "0.3", "-W", "5ms"},
			status: 0,
			want:   []string{"20 packets transmitted, "},
		},
		{
			name:   "other network, explicit target and size",
			args:   []string{"-memlan-demo", "-net", "ab", "-c", "1", "-s", "100", "000000ab:020000000002"},
			status: 0,
			want:   []string{"100 bytes from 000000ab:020000000002:9086: id=0"},
		},
		{
			name:   "nobody there",
			args:   []string{"-memlan-demo", "-c", "1", "-W", "50ms", "00000001:020000000009:9086"},
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
		go func() { done <- run(ctx, []string{"-memlan-demo", "-delay", "1ms"}, &out, &errb) }()
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
		{"no link", []string{"1:020000000001"}, 2, "choose one link"},
		{"old link flag", []string{"-link", "memlan"}, 2, "not defined: -link"},
		{"frame is part of -ether", []string{"-memlan-demo", "-frame", "foo"}, 2, "not defined: -frame"},
		{"ether bad frame", []string{"-ether", "lo:token-ring", "1:020000000001"}, 2, "want auto, ethernet_ii"},
		{"ether no such interface", []string{"-ether", "ipxping-none0", "1:020000000001"}, 1, "ipxping-none0"},
		{"no address on a real link", []string{"-udp-server", "127.0.0.1:1"}, 2, "no address to ping"},
		{"bad address", []string{"-memlan-demo", "zz:yy"}, 2, `address "zz:yy": not an IPX address: network "zz" is not 1 to 8 hex digits`},
		{"small size", []string{"-memlan-demo", "-s", "39"}, 2, "-s 39: a ping is at least 40 bytes"},
		{"size over the MTU", []string{"-memlan-demo", "-s", "1501"}, 2, "-s 1501: over the link's MTU of 1500 bytes"},
		{"bad net", []string{"-memlan-demo", "-net", "xyz"}, 2, "not hex"},
		{"broadcast net", []string{"-memlan-demo", "-net", "ffffffff"}, 2, "every network"},
		{"loss over 1", []string{"-memlan-demo", "-loss", "2"}, 2, "-loss 2: a probability is 0 to 1"},
		{"negative loss", []string{"-memlan-demo", "-loss", "-0.5"}, 2, "a probability is 0 to 1"},
		{"negative delay", []string{"-memlan-demo", "-delay", "-1s"}, 2, "negative delay"},
		{"loss on udp", []string{"-udp-server", "x", "-loss", "0.1", "1:020000000001"}, 2, "-memlan-demo only"},
		{"zero interval", []string{"-memlan-demo", "-i", "0"}, 2, "-i 0s: the interval must be positive"},
		{"type over a byte", []string{"-memlan-demo", "-t", "256"}, 2, "one byte"},
		{"two addresses", []string{"-memlan-demo", "1:020000000001", "1:020000000002"}, 2, "one address"},
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
			// A usage error is told once, not around the usage text.
			if tt.status == 2 && (strings.Count(errb.String(), tt.want) != 1 || strings.Contains(errb.String(), "Flags:")) {
				t.Errorf("usage error told more than once:\n%s", errb.String())
			}
		})
	}
}

// TestRunSendError pings a network no route leads to: the request is not
// sent, so it is not counted, and the error comes before the statistics.
func TestRunSendError(t *testing.T) {
	var both bytes.Buffer // a terminal shows both streams as one
	if got := run(context.Background(), []string{"-memlan-demo", "-c", "3", "00000099:020000000002"}, &both, &both); got != 1 {
		t.Errorf("status %d, want 1", got)
	}
	out := both.String()
	stats := strings.Index(out, "0 packets transmitted, 0 received")
	sendErr := strings.Index(out, "ipxping: ")
	if stats < 0 || sendErr < 0 || sendErr > stats || !strings.Contains(out, "write") {
		t.Errorf("want the send error, then statistics with nothing sent:\n%s", out)
	}
}
