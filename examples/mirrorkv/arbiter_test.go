package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/examples/internal/routedtunnel"
	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/ipx/udp"
	"github.com/ipxkit/ipxkit/mirror"
	"github.com/ipxkit/ipxkit/mirror/ipxarbiter"
)

const testArbiterKey = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"

// tunnelNodes returns the tunnel's nodes for addresses: a tunnel node is
// the UDP address.
// testRelay starts a routing tunnel relay on loopback for the test.
func testRelay(t *testing.T) *routedtunnel.Tunnel {
	t.Helper()
	relay, err := routedtunnel.Listen("127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	return relay
}

func tunnelNodes(t *testing.T, n int) ([]string, []ipx.Node) {
	t.Helper()
	var addrs []string
	var nodes []ipx.Node
	for _, a := range freeUDP(t, n) {
		nd, ok := udp.NodeFromAddrPort(a.AddrPort())
		if !ok {
			t.Fatalf("no node for %v", a)
		}
		addrs, nodes = append(addrs, a.String()), append(nodes, nd)
	}
	return addrs, nodes
}

// lastLine returns the last line of out holding prefix.
func lastLine(out, prefix string) string {
	line := ""
	for l := range strings.Lines(out) {
		if strings.Contains(l, prefix) {
			line = l
		}
	}
	return line
}

// waitStatusLine asks p for its status until the line holds every want,
// and returns it.
func waitStatusLine(t *testing.T, p *proc, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		before := strings.Count(p.stdout.String(), "mirrorkv: status:")
		io.WriteString(p.stdin, "status\n")
		for strings.Count(p.stdout.String(), "mirrorkv: status:") == before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		line := lastLine(p.stdout.String(), "mirrorkv: status:")
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(line, w)
		}
		if ok {
			return line
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status with %q within 15s; last:\n%s", want, line)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestArbiterFailoverProcesses runs an arbiter, a pair that uses it and a
// client writing in a loop (one -batch process), each its own process on
// a loopback tunnel, kills the primary with SIGKILL mid-workload, and
// checks that the secondary takes over in the epoch the arbiter granted
// it and that every write of the batch is answered.
func TestArbiterFailoverProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes for seconds")
	}
	bin := buildBinary(t)
	relay := testRelay(t)
	addrs, nodes := tunnelNodes(t, 3) // primary, secondary, arbiter
	lan := func(i int) ipx.Addr { return ipx.Addr{Net: 1, Node: nodes[i]} }

	state := filepath.Join(t.TempDir(), "grants.json")
	arb := startServer(t, bin, "arbiter", "-udp-server", relay.Addr(), "-udp-local", addrs[2],
		"-key", testArbiterKey, "-state", state)
	arbAddr := ipx.Addr{Net: 1, Node: nodes[2], Socket: ipxarbiter.DefaultSocket}
	waitOutput(t, arb.stdout, fmt.Sprintf("mirrorkv: arbiter at %v (grants kept in %s)\n", arbAddr, state))

	server := func(role string, me, peer int) *proc {
		return startServer(t, bin, "-udp-server", relay.Addr(), "-udp-local", addrs[me],
			"-role", role, "-peer", "1:"+nodes[peer].String(), "-key", testKey,
			"-arbiter", "1:"+nodes[2].String(), "-arbiter-key", testArbiterKey)
	}
	a := server("primary", 0, 1)
	// A primary answers once granted its first epoch.
	waitOutput(t, a.stderr, `msg="mirrorkv: the arbiter granted the epoch" epoch=1 server=`+mirror.ServerID(lan(0)))
	b := server("secondary", 1, 0)
	waitOutput(t, a.stderr, `msg="mirror: secondary synchronised: mirroring"`)
	waitOutput(t, b.stderr, `msg="mirror: caught up with the primary: mirroring"`)
	waitStatusLine(t, a, "role=primary epoch=1 peer=mirrored", "arbiter="+arbAddr.String(), "last-claim=granted:1")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := exec.CommandContext(ctx, bin, "client", "-udp-server", relay.Addr(), "-timeout", "10s", "-batch")
	out, clErr := new(syncBuffer), new(syncBuffer)
	cl.Stdout, cl.Stderr = out, clErr
	in, err := cl.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	const n, killAt = 20, 5
	for i := range killAt {
		fmt.Fprintf(in, "put k%d v%d\n", i, i)
		waitOutput(t, out, strings.Repeat("OK\n", i+1))
	}
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := killAt; i < n; i++ {
		fmt.Fprintf(in, "put k%d v%d\n", i, i)
	}
	in.Close()
	if err := cl.Wait(); err != nil || out.String() != strings.Repeat("OK\n", n) {
		t.Fatalf("batch: %v; stdout:\n%s\nstderr:\n%s", err, out, clErr)
	}
	t.Logf("the batch's last %d writes answered %v after SIGKILL", n-killAt, time.Since(start))
	a.cmd.Wait()

	waitOutput(t, b.stderr, `msg="mirrorkv: the arbiter granted the epoch" epoch=2 server=`+mirror.ServerID(lan(1)))
	waitOutput(t, b.stderr, `msg="mirror: primary down (MSL silent and no answer on the LAN): taking over" mirror=00c0ffee epoch=2`)
	waitOutput(t, arb.stderr, `msg="ipxarbiter: granted" network=00c0ffee epoch=2 to=`+mirror.ServerID(lan(1)))
	waitStatusLine(t, b, "role=primary epoch=2 peer=none", "last-claim=granted:2")
	for _, k := range []string{"k0", fmt.Sprint("k", killAt), fmt.Sprint("k", n-1)} {
		if got, code := client(t, bin, relay.Addr(), "get", k); code != 0 || got != "v"+k[1:]+"\n" {
			t.Errorf("get %s = %q, %d", k, got, code)
		}
	}
	// The grants outlive the arbiter.
	if err := arb.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := arb.cmd.Wait(); err != nil {
		t.Errorf("arbiter after SIGTERM: %v", err)
	}
	waitOutput(t, arb.stdout, "mirrorkv: arbiter stopping: claims=")
	if b, err := os.ReadFile(state); err != nil || !strings.Contains(string(b), `"epoch":2`) {
		t.Errorf("state file = %s, %v; want epoch 2 granted", b, err)
	}
}

// TestHealthDemotionProcesses runs a pair with -health-fail-file and
// checks that touching the primary's file hands the role to the
// secondary, that the status says so, and that removing it does not
// bring the role back (no preemption).
func TestHealthDemotionProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes for seconds")
	}
	bin := buildBinary(t)
	relay := testRelay(t)
	addrs, nodes := tunnelNodes(t, 2)
	dir := t.TempDir()
	fail := []string{filepath.Join(dir, "a.fail"), filepath.Join(dir, "b.fail")}
	server := func(role string, me, peer int) *proc {
		return startServer(t, bin, "-udp-server", relay.Addr(), "-udp-local", addrs[me],
			"-role", role, "-peer", "1:"+nodes[peer].String(), "-key", testKey,
			"-health-fail-file", fail[me], "-health-interval", "50ms")
	}
	a := server("primary", 0, 1)
	b := server("secondary", 1, 0)
	waitOutput(t, a.stdout, "mirrorkv: health check: fails while "+fail[0]+" exists, every 50ms\n")
	waitOutput(t, a.stderr, `msg="mirror: secondary synchronised: mirroring"`)
	waitOutput(t, b.stderr, `msg="mirror: caught up with the primary: mirroring"`)
	waitStatusLine(t, a, "role=primary epoch=1 peer=mirrored", "health=ok unhealthy=0")
	if got, code := client(t, bin, relay.Addr(), "put", "k", "1"); code != 0 || got != "OK\n" {
		t.Fatalf("put = %q, %d", got, code)
	}

	// The operator's touch demotes the primary.
	if err := os.WriteFile(fail[0], nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, a.stderr, `msg="mirror: health check failed: handing the primary role to the secondary"`)
	waitOutput(t, b.stderr, `msg="mirror: switchover: took the primary role" mirror=00c0ffee role=primary peer=mirrored epoch=2`)
	waitStatusLine(t, a, "role=secondary epoch=2 peer=mirrored", "health=failing")
	waitStatusLine(t, b, "role=primary epoch=2 peer=mirrored", "health=ok unhealthy=0")
	if got, code := client(t, bin, relay.Addr(), "cas", "k", "1", "2"); code != 0 || got != "OK\n" {
		t.Fatalf("cas after the demotion = %q, %d", got, code)
	}

	// Removing the file ends the failure; the role stays with B.
	if err := os.Remove(fail[0]); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, a.stderr, `msg="mirror: health check passes again"`)
	waitStatusLine(t, a, "role=secondary epoch=2 peer=mirrored", "health=ok")
	if got, code := client(t, bin, relay.Addr(), "get", "k"); code != 0 || got != "2\n" {
		t.Fatalf("get = %q, %d", got, code)
	}
	if strings.Contains(b.stderr.String(), "handing the primary role") {
		t.Errorf("B handed the role back by itself:\n%s", b.stderr)
	}
}

// TestUsageArbiterHealth checks the usage errors of the arbiter mode and
// of the servers' arbiter and health flags: exit 2, reported once.
func TestUsageArbiterHealth(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte(testArbiterKey+"\n"), 0o600)
	arb := func(a ...string) []string { return append([]string{"arbiter", "-udp-server", "127.0.0.1:9"}, a...) }
	srv := func(a ...string) []string {
		return append([]string{"-udp-server", "127.0.0.1:9", "-role", "primary", "-peer", "1:020000000002", "-key", testKey}, a...)
	}
	for _, tc := range []struct {
		args   []string
		status int
		want   string
	}{
		{[]string{"arbiter", "-h"}, 0, "-state FILE"},
		{[]string{"arbiter", "-h"}, 0, "may grant an epoch twice"},
		{[]string{"-h"}, 0, "mirrorkv arbiter [link flags]"},
		{[]string{"-h"}, 0, "-health-fail-file PATH"},
		{[]string{"-h"}, 0, `"touch FILE" on the primary`},
		{arb(), 2, "-key or -key-file is required"},
		{[]string{"arbiter", "-key", testArbiterKey}, 2, "choose one link"},
		{[]string{"arbiter", "-memlan-demo", "-key", testArbiterKey}, 2, "no in-memory LAN"},
		{arb("-key", "0011"), 2, "key of 2 bytes"},
		{arb("-key", "xyz"), 2, "-key: key: not hex"},
		{arb("-key", testArbiterKey, "-key-file", keyFile), 2, "give -key or -key-file, not both"},
		{arb("-key", testArbiterKey, "-socket", "0"), 2, "-socket"},
		{arb("-key", testArbiterKey, "extra"), 2, "unexpected arguments"},
		{arb("-key", testArbiterKey, "-nosuchflag"), 2, "flag provided but not defined"},
		{srv("-arbiter", "1"), 2, "-arbiter: address"},
		{srv("-arbiter", "1:ffffffffffff"), 2, "want a host's address"},
		{srv("-arbiter", "1:020000000003:0"), 2, "nonzero socket"},
		{srv("-arbiter-key", testArbiterKey), 2, "-arbiter-key and -arbiter-key-file need -arbiter"},
		{srv("-arbiter-key-file", keyFile), 2, "need -arbiter"},
		{srv("-arbiter", "1:020000000003", "-arbiter-key", "0011"), 2, "-arbiter-key: key of 2 bytes"},
		{srv("-arbiter", "1:020000000003", "-arbiter-key", testArbiterKey, "-arbiter-key-file", keyFile), 2,
			"give -arbiter-key or -arbiter-key-file, not both"},
		{srv("-arbiter", "1:020000000003", "-arbiter-key-file", filepath.Join(t.TempDir(), "none")), 2, "-arbiter-key-file:"},
		{srv("-health-interval", "1s"), 2, "-health-interval needs -health-fail-file"},
		{srv("-health-fail-file", keyFile, "-health-interval", "0s"), 2, "-health-interval 0s: want positive"},
		{srv("-health-interval", "soon"), 2, "-health-interval"},
	} {
		var stdout, stderr bytes.Buffer
		if got := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr); got != tc.status {
			t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tc.args, got, tc.status, &stderr)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("run(%q) stderr lacks %q:\n%s", tc.args, tc.want, &stderr)
		}
		if tc.status == 2 && strings.Count(stderr.String(), "for usage.") != 1 {
			t.Errorf("run(%q) reported the usage error other than once:\n%s", tc.args, &stderr)
		}
	}
}

// TestParseServerArbiter checks the arbiter's defaults: its socket, and
// the MSL key as its key.
func TestParseServerArbiter(t *testing.T) {
	base := []string{"-udp-server", "127.0.0.1:9", "-role", "primary", "-peer", "1:020000000002", "-key", testKey}
	o, _, err := parseServer(append(base, "-arbiter", "1:020000000003"))
	if err != nil {
		t.Fatal(err)
	}
	want := ipx.Addr{Net: 1, Node: ipx.Node{2, 0, 0, 0, 0, 3}, Socket: ipxarbiter.DefaultSocket}
	if o.arbiter != want || !bytes.Equal(o.arbiterKey, o.key) {
		t.Errorf("arbiter %v key %x; want %v and the MSL key %x", o.arbiter, o.arbiterKey, want, o.key)
	}
	if o, _, err = parseServer(append(base, "-arbiter", "1:020000000003:4a07", "-arbiter-key", testArbiterKey)); err != nil ||
		o.arbiter.Socket != 0x4a07 || fmt.Sprintf("%x", o.arbiterKey) != testArbiterKey {
		t.Errorf("parseServer = %v %x, %v", o.arbiter, o.arbiterKey, err)
	}
	if o, _, err = parseServer(base); err != nil || o.arbiter != (ipx.Addr{}) || o.healthFile != "" {
		t.Errorf("parseServer without -arbiter = %v %q, %v", o.arbiter, o.healthFile, err)
	}
}

// TestFailFile checks the -health-fail-file check.
func TestFailFile(t *testing.T) {
	f := &failFile{path: filepath.Join(t.TempDir(), "fail")}
	if f.state() != "unchecked" {
		t.Errorf("state before a check = %s", f.state())
	}
	if err := f.check(context.Background()); err != nil || f.state() != "ok" {
		t.Errorf("check without the file = %v, %s", err, f.state())
	}
	os.WriteFile(f.path, nil, 0o600)
	if err := f.check(context.Background()); !errors.Is(err, errFailFile) || f.state() != "failing" {
		t.Errorf("check with the file = %v, %s", err, f.state())
	}
	os.Remove(f.path)
	if err := f.check(context.Background()); err != nil || f.state() != "ok" {
		t.Errorf("check after removing the file = %v, %s", err, f.state())
	}
}
