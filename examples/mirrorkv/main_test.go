package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
)

const testKey = "000102030405060708090a0b0c0d0e0f1011121314151617"

// syncBuffer is a bytes.Buffer a process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitOutput waits until b holds want, or fails the test.
func waitOutput(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within 15s in:\n%s", want, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// built is the binary the tests run, built once per test process.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
	out      []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build with:", err)
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "mirrorkv-test-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "mirrorkv")
		built.out, built.err = exec.Command(goTool, "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

// freeUDP returns n loopback UDP addresses free a moment ago, below the
// kernel's ephemeral range, so that no socket bound to port 0 (a client's)
// takes one before the server binds it.
func freeUDP(t *testing.T, n int) []*net.UDPAddr {
	t.Helper()
	var out []*net.UDPAddr
	for len(out) < n {
		a := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 20000 + rand.IntN(12000)}
		pc, err := net.ListenUDP("udp4", a)
		if err != nil {
			continue // taken: try another
		}
		defer pc.Close()
		out = append(out, a)
	}
	return out
}

// proc is a running server.
type proc struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr *syncBuffer
}

func startServer(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), stdout: new(syncBuffer), stderr: new(syncBuffer)}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("mirrorkv %q:\nstdout:\n%s\nstderr:\n%s", args, p.stdout, p.stderr)
		}
	})
	return p
}

// client runs the client and returns its stdout and exit status.
func client(t *testing.T, bin, relay string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append([]string{"client", "-udp-server", relay, "-timeout", "10s"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("client %q: %v", args, err)
		}
		code = ee.ExitCode()
	}
	if code != 0 {
		t.Logf("client %q exited %d; stderr:\n%s", args, code, &stderr)
	}
	return stdout.String(), code
}

// TestFailoverProcesses runs a relay, two servers and clients as separate
// processes over a loopback tunnel, kills the primary with SIGKILL, and
// checks that the next request succeeds through the secondary.
func TestFailoverProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes for seconds")
	}
	bin := buildBinary(t)
	relay := testRelay(t)
	addrs := freeUDP(t, 2)
	var nodes [2]string
	for i, a := range addrs {
		n, _ := udp.NodeFromAddrPort(a.AddrPort())
		nodes[i] = "1:" + n.String()
	}
	server := func(role string, me, peer int) *proc {
		return startServer(t, bin, "-udp-server", relay.Addr(), "-udp-local", addrs[me].String(),
			"-role", role, "-peer", nodes[peer], "-key", testKey)
	}
	a := server("primary", 0, 1)
	b := server("secondary", 1, 0)
	waitOutput(t, a.stderr, `msg="mirror: secondary synchronised: mirroring"`)
	waitOutput(t, b.stderr, `msg="mirror: caught up with the primary: mirroring"`)

	if out, code := client(t, bin, relay.Addr(), "put", "greeting", "hello"); code != 0 || out != "OK\n" {
		t.Fatalf("put = %q, %d", out, code)
	}
	if out, code := client(t, bin, relay.Addr(), "cas", "n", "", "1"); code != 0 || out != "OK\n" {
		t.Fatalf("cas = %q, %d", out, code)
	}
	io.WriteString(a.stdin, "status\n")
	waitOutput(t, a.stdout, "mirrorkv: status: role=primary epoch=1 peer=mirrored applied=2 acked=2")

	// A planned switchover to B and back, with a request between.
	io.WriteString(a.stdin, "switchover\n")
	waitOutput(t, a.stdout, "mirrorkv: switchover done: mirrorkv: status: role=secondary epoch=2")
	if out, code := client(t, bin, relay.Addr(), "get", "greeting"); code != 0 || out != "hello\n" {
		t.Fatalf("get after the switchover = %q, %d", out, code)
	}
	io.WriteString(b.stdin, "switchover\n")
	waitOutput(t, b.stdout, "mirrorkv: switchover done: mirrorkv: status: role=secondary epoch=3")
	// A switchover keeps the MSL session: A is primary again, mirrored.
	waitOutput(t, a.stderr, `msg="mirror: switchover: took the primary role" mirror=00c0ffee role=primary peer=mirrored epoch=3`)

	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.cmd.Wait()
	start := time.Now()
	if out, code := client(t, bin, relay.Addr(), "get", "greeting"); code != 0 || out != "hello\n" {
		t.Fatalf("get after the primary's crash = %q, %d", out, code)
	}
	t.Logf("first request after SIGKILL answered in %v", time.Since(start))
	waitOutput(t, b.stderr, `level=WARN msg="mirror: primary down (MSL silent and no answer on the LAN): taking over"`)
	if out, code := client(t, bin, relay.Addr(), "cas", "n", "1", "2"); code != 0 || out != "OK\n" {
		t.Fatalf("cas after takeover = %q, %d", out, code)
	}
	if out, code := client(t, bin, relay.Addr(), "cas", "n", "1", "3"); code != 1 || out != "mismatch: 2\n" {
		t.Fatalf("stale cas = %q, %d; want a mismatch", out, code)
	}
	if out, code := client(t, bin, relay.Addr(), "get", "nothing"); code != 1 || out != "not found\n" {
		t.Fatalf("get of a missing key = %q, %d", out, code)
	}
	if err := b.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, b.stdout, "mirrorkv: status: role=primary epoch=4 peer=none")

	// SIGTERM stops the server cleanly.
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Wait(); err != nil {
		t.Errorf("secondary after SIGTERM: %v\nstderr:\n%s", err, b.stderr)
	}
	waitOutput(t, b.stdout, "mirrorkv: stopping")
}

// TestExpvar checks that a server publishes its counters at -debug-addr.
func TestExpvar(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server")
	}
	relay := testRelay(t)
	ctx, cancel := context.WithCancel(context.Background())
	stdout := new(syncBuffer)
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"-udp-server", relay.Addr(), "-role", "primary", "-peer", "1:020000000002",
			"-key", testKey, "-debug-addr", "127.0.0.1:0"}, strings.NewReader(""), stdout, io.Discard)
	}()
	waitOutput(t, stdout, "/debug/vars\n")
	out := stdout.String()
	i := strings.Index(out, "http://")
	url := out[i : i+strings.Index(out[i:], "\n")]
	var body string
	for range 50 { // the status is published once the server runs
		resp, err := httpGet(url)
		if err != nil {
			t.Fatal(err)
		}
		if body = resp; strings.Contains(body, `"Role":"primary"`) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{`"mirror": {`, `"Stats":{`, `"Takeovers":0`, `"Role":"primary"`, `"Peer":"none"`} {
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %s:\n%s", url, want, body)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("run = %d after its context ended, want 0", code)
	}
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func httpGet(url string) (string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestUsage checks usage errors, which exit 2, and -h, which exits 0.
func TestUsage(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte("00112233\n"), 0o600)
	srv := []string{"-udp-server", "127.0.0.1:9", "-role", "primary", "-peer", "1:020000000002"}
	for _, tc := range []struct {
		args   []string
		status int
		want   string
	}{
		{[]string{"-h"}, 0, "usage: mirrorkv [link flags] -role"},
		{[]string{"client", "-h"}, 0, "usage: mirrorkv client"},
		{[]string{"relay", "-h"}, 0, "usage: mirrorkv relay"},
		{[]string{"-nosuchflag"}, 2, "flag provided but not defined"},
		{append(srv, "-key", testKey, "extra"), 2, "unexpected arguments"},
		{[]string{"-role", "primary", "-peer", "1:020000000002", "-key", testKey}, 2, "choose one link"},
		{[]string{"-memlan-demo", "-role", "primary", "-peer", "1:020000000002", "-key", testKey}, 2, "no in-memory LAN"},
		{[]string{"-udp-server", "127.0.0.1:9", "-role", "boss", "-peer", "1:020000000002", "-key", testKey}, 2, `-role "boss"`},
		{[]string{"-udp-server", "127.0.0.1:9", "-role", "primary", "-key", testKey}, 2, "-peer is required"},
		{[]string{"-udp-server", "127.0.0.1:9", "-role", "primary", "-peer", "1-2", "-key", testKey}, 2, "-peer"},
		{srv, 2, "-key or -key-file is required"},
		{append(srv, "-key", "0011"), 2, "key of 2 bytes"},
		{append(srv, "-key", "xyz"), 2, "not hex"},
		{append(srv, "-key-file", keyFile), 2, "key of 4 bytes"},
		{append(srv, "-key", testKey, "-key-file", keyFile), 2, "not both"},
		{append(srv, "-key", testKey, "-msl-listen", "0"), 2, "-msl-listen"},
		{append(srv, "-key", testKey, "-msl-peer", "1:2"), 2, "-msl-peer"},
		{append(srv, "-key", testKey, "-internal-node", "1"), 2, "-internal-node"},
		{append(srv, "-key", testKey, "-internal-net", "zz"), 2, "-internal-net"},
		{[]string{"-ether", "lo", "-udp-local", "127.0.0.1:1", "-role", "primary", "-peer", "1:020000000002", "-key", testKey}, 2, "-udp-local needs -udp-server"},
		{[]string{"client", "-udp-server", "127.0.0.1:9"}, 2, "no request"},
		{[]string{"client", "-udp-server", "127.0.0.1:9", "del", "k"}, 2, `request "del"`},
		{[]string{"client", "-udp-server", "127.0.0.1:9", "put", "k"}, 2, "put takes 2 arguments, got 1"},
		{[]string{"client", "-udp-server", "127.0.0.1:9", "-timeout", "0s", "get", "k"}, 2, "-timeout"},
		{[]string{"client", "-udp-server", "127.0.0.1:9", "get", strings.Repeat("k", 256)}, 2, "at most 255 bytes"},
		{[]string{"client", "get", "k"}, 2, "choose one link"},
		{[]string{"relay", "extra"}, 2, "unexpected arguments"},
	} {
		var stdout, stderr bytes.Buffer
		if got := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr); got != tc.status {
			t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tc.args, got, tc.status, &stderr)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("run(%q) stderr lacks %q:\n%s", tc.args, tc.want, &stderr)
		}
	}
}

// TestParseNetNode covers the -peer syntax.
func TestParseNetNode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ipx.Addr
		ok   bool
	}{
		{"1:020000000002", ipx.Addr{Net: 1, Node: ipx.Node{2, 0, 0, 0, 0, 2}}, true},
		{"0000beef:02:00:00:00:00:03", ipx.Addr{Net: 0xbeef, Node: ipx.Node{2, 0, 0, 0, 0, 3}}, true},
		{"1", ipx.Addr{}, false},
		{"x:020000000002", ipx.Addr{}, false},
		{"1:0200", ipx.Addr{}, false},
	} {
		got, err := parseNetNode(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseNetNode(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
