package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildDemo builds the command into a temporary directory.
func buildDemo(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the demo with:", err)
	}
	bin := filepath.Join(t.TempDir(), "mirrordemo")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestDemo runs the built demo on both transports and checks that it
// passes and says, in plain words, what happened.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	bin := buildDemo(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"udp", nil, "IPX over UDP, a loopback tunnel at 127.0.0.1:"},
		{"memlan", []string{"-memlan"}, "an in-memory LAN"},
		{"memlan-demo", []string{"-memlan-demo"}, "an in-memory LAN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			args := append([]string{"-duration", "2s", "-kill-after", "700ms"}, tc.args...)
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("mirrordemo %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, &stdout, &stderr)
			}
			out := stdout.String()
			for _, want := range []string{
				tc.want,
				"A is primary and B secondary, mirrored",
				"crashing A, the primary",
				"B      level=WARN msg=\"mirror: primary down (MSL silent and no answer on the LAN): taking over\"",
				"B      level=WARN msg=\"mirror: now primary",
				"longest pause the client saw: ",
				"requests: ",
				"B is primary now, epoch 2",
				"every acknowledged update survived",
				"PASS\n",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "FAILED") {
				t.Errorf("a check failed:\n%s", out)
			}
		})
	}
}

// TestUsage checks -h and usage errors without running the demo.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		status int
		want   string
	}{
		{[]string{"-h"}, 0, "usage: mirrordemo"},
		{[]string{"-nosuchflag"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, "unexpected arguments"},
		{[]string{"-workers", "0"}, 2, "-workers 0"},
		{[]string{"-keys", "1001"}, 2, "-keys 1001"},
		{[]string{"-duration", "1s", "-kill-after", "1s"}, 2, "-kill-after 1s"},
		{[]string{"-duration", "0s"}, 2, "-duration 0s"},
	} {
		var stdout, stderr bytes.Buffer
		if got := run(context.Background(), tc.args, &stdout, &stderr); got != tc.status {
			t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tc.args, got, tc.status, &stderr)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("run(%q) stderr lacks %q:\n%s", tc.args, tc.want, &stderr)
		}
		if stdout.Len() != 0 {
			t.Errorf("run(%q) wrote to stdout:\n%s", tc.args, &stdout)
		}
	}
}

// TestRunInProcess runs the demo in the test's process, so that the race
// detector watches it, on both transports.
func TestRunInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for seconds")
	}
	for _, args := range [][]string{{"-memlan"}, nil} {
		args = append([]string{"-duration", "1500ms", "-kill-after", "300ms", "-workers", "2"}, args...)
		var stdout, stderr bytes.Buffer
		if got := run(context.Background(), args, &stdout, &stderr); got != 0 {
			t.Errorf("run(%q) = %d, want 0\nstdout:\n%s\nstderr:\n%s", args, got, &stdout, &stderr)
		}
	}
}
