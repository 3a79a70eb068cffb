// Package examples_test runs the example programs as a user does: built
// binaries, real flags, over the in-memory demo, over a loopback tunnel
// and across two networks joined by routing tunnel servers.
package examples_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/internal/syncbuf"
)

// tools are the programs under test.
var tools = []string{"ipxdump", "ipxping", "ipxroute", "ipxserver", "slist", "spxcat"}

// binDir holds the built tools; empty when they could not be built.
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "ipxkit-tools")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Others may run the tools: TestPrivilegedPort as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, t := range tools {
		args = append(args, "./"+t)
	}
	// go test puts its own go first in PATH.
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the tools: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is how a tool run ended.
type result struct {
	stdout, stderr string
	code           int
}

// run runs tool with args and stdin to its end, within a minute.
func run(t *testing.T, stdin string, tool string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, tool), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s %q: %v", tool, args, err)
	}
	return result{out.String(), errb.String(), code}
}

// proc is a tool running in the background until the test ends.
type proc struct {
	name     string
	cmd      *exec.Cmd
	out, err syncbuf.Buffer
	done     chan struct{}
}

// start runs tool with args until the test ends, when it is interrupted
// as a user would and must exit 0 without a warning.
func start(t *testing.T, tool string, args ...string) *proc {
	t.Helper()
	p := &proc{name: tool, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(binDir, tool), args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("%s %q did not end on interrupt", tool, args)
			return
		}
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s %q exited %d after interrupt; stderr:\n%s", tool, args, code, p.err.String())
		}
		if s := p.err.String(); strings.Contains(s, "level=WARN") || strings.Contains(s, "level=ERROR") {
			t.Errorf("%s %q warned:\n%s", tool, args, s)
		}
	})
	return p
}

// wait returns the submatches of pattern once the tool's output, stdout
// then stderr, matches it.
func (p *proc) wait(t *testing.T, pattern string) []string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(p.out.String() + p.err.String()); m != nil {
			return m
		}
		select {
		case <-p.done:
			// It may have printed it between our look and its exit.
			if m := re.FindStringSubmatch(p.out.String() + p.err.String()); m != nil {
				return m
			}
			t.Fatalf("%s exited before printing %q; stdout:\n%s\nstderr:\n%s", p.name, pattern, p.out.String(), p.err.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q; stdout:\n%s\nstderr:\n%s", p.name, pattern, p.out.String(), p.err.String())
		}
	}
}

// until runs tool until its stdout contains want, for protocols that
// converge (routes and services propagate between routers).
func until(t *testing.T, want string, tool string, args ...string) result {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := run(t, "", tool, args...)
		if r.code == 0 && strings.Contains(r.stdout, want) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %q: never printed %q; last exit %d, stdout:\n%s\nstderr:\n%s", tool, args, want, r.code, r.stdout, r.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func expect(t *testing.T, r result, code int, stdout ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d; stderr:\n%s", r.code, code, r.stderr)
	}
	for _, w := range stdout {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
		}
	}
}

// freeUDP returns a loopback UDP address free a moment ago.
func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// TestUsageErrors gives each tool a bad command line: it says what is
// wrong once, points to -h and exits 2; -h prints the usage and exits 0.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		tool string
		args []string
		want string
	}{
		{"ipxping", []string{"-memlan-demo", "-loss", "2"}, "-loss 2: a probability is 0 to 1"},
		{"ipxping", []string{"-memlan-demo", "-frame", "foo"}, "flag provided but not defined: -frame"},
		{"ipxping", []string{"-ether", "eth0:foo", "1:020000000001"}, `frame "foo": unknown frame type`},
		{"ipxping", []string{"-link", "memlan"}, "flag provided but not defined: -link"},
		{"ipxping", []string{"-memlan-demo", "1:zz"}, `address "1:zz": not an IPX address: node "zz" is not 12 hex digits`},
		{"ipxping", []string{"-memlan-demo", "-s", "1501"}, "-s 1501: over the link's MTU of 1500 bytes"},
		{"ipxping", nil, "choose one link: -memlan-demo, -udp-server or -ether"},
		{"slist", []string{"-memlan-demo", "-net", "ffffffff"}, "ffffffff means every network"},
		{"slist", []string{"-memlan-demo", "-type", "x"}, `"x" is not a service type`},
		{"slist", []string{"-udp-server", "127.0.0.1:9", "-net", "5"}, "the tunnel server numbers a -udp-server segment"},
		{"ipxroute", []string{"-memlan-demo", "-interval", "0"}, "-interval 0s: must be positive"},
		{"ipxroute", []string{"-udp-listen", "127.0.0.1:0"}, "want host:port/net"},
		{"ipxroute", []string{"-udp-peer", "127.0.0.1:1/c"}, "want LOCAL=REMOTE/net"},
		{"ipxroute", []string{"-memlan-demo", "-sap", "4:FS1"}, `"4:FS1"`},
		{"ipxserver", []string{"-max-clients", "0"}, "-max-clients 0: must be positive"},
		{"ipxserver", []string{"-sap", "0:FS1:0451"}, `type "0"`},
		{"spxcat", []string{"-memlan-demo", "-timeout", "0"}, "-timeout 0s: must be positive"},
		{"spxcat", []string{"-udp-server", "127.0.0.1:9"}, "no address to dial"},
		{"ipxdump", nil, "give exactly one of -r FILE and -ether IFACE"},
		{"ipxdump", []string{"-r", "x", "-c", "-1"}, "-c -1: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.tool+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			r := run(t, "", tt.tool, tt.args...)
			want := fmt.Sprintf("%s: ", tt.tool)
			if r.code != 2 || !strings.HasPrefix(r.stderr, want) || !strings.Contains(r.stderr, tt.want) ||
				!strings.HasSuffix(r.stderr, fmt.Sprintf("\nRun '%s -h' for usage.\n", tt.tool)) ||
				strings.Count(r.stderr, "\n") != 2 || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant 2 and one line saying %q", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
	for _, tool := range tools {
		t.Run(tool+" -h", func(t *testing.T) {
			r := run(t, "", tool, "-h")
			if r.code != 0 || !strings.HasPrefix(r.stderr, "usage: "+tool) {
				t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
			}
		})
	}
}

// TestMemlanDemo runs each tool on its in-memory demo network.
func TestMemlanDemo(t *testing.T) {
	t.Run("ipxping", func(t *testing.T) {
		r := run(t, "", "ipxping", "-memlan-demo", "-c", "3", "-i", "10ms")
		expect(t, r, 0, "56 bytes from 00000001:020000000002:9086: id=2", "3 packets transmitted, 3 received, 0.0% packet loss")
	})
	t.Run("slist", func(t *testing.T) {
		r := run(t, "", "slist", "-memlan-demo")
		expect(t, r, 0, "ACCOUNTING", "ENGINEERING", "WAREHOUSE", "Total of 3 servers found")
	})
	t.Run("spxcat", func(t *testing.T) {
		r := run(t, "hello, echo\n", "spxcat", "-memlan-demo", "-v")
		expect(t, r, 0, "hello, echo\n")
		if !strings.Contains(r.stderr, "packets: ") || strings.Contains(r.stderr, "{") {
			t.Errorf("-v statistics not readable:\n%s", r.stderr)
		}
	})
	t.Run("ipxroute", func(t *testing.T) {
		r := run(t, "", "ipxroute", "-memlan-demo", "-interval", "1s", "-duration", "3s")
		expect(t, r, 0, "link 1: network 00000001", "00000004    2")
	})
	t.Run("ipxdump", func(t *testing.T) {
		r := run(t, "", "ipxdump", "-r", filepath.Join("ipxdump", "testdata", "sample.pcap"))
		expect(t, r, 0, "SAP len 34 hops 0: SAP general query type 0004")
		if r.stderr != "ipxdump: 9 IPX packets, 1 other frame skipped\n" {
			t.Errorf("stderr %q", r.stderr)
		}
	})
}

// TestTunnel runs ipxserver on an unprivileged loopback port, answering
// ping and advertising services, and the other tools as its clients.
func TestTunnel(t *testing.T) {
	srv := start(t, "ipxserver", "-addr", "127.0.0.1:0", "-echo", "-sap", "4:FS1:0451", "-sap", "7:LASER:8060")
	addr := srv.wait(t, `listening" addr=(\S+)`)[1]
	echoAddr := srv.wait(t, `answering ipxping" addr=(\S+)`)[1]
	var dump *proc
	if os.Getuid() == 0 { // a live capture needs CAP_NET_RAW
		dump = start(t, "ipxdump", "-ether", "lo")
		dump.wait(t, "ipxdump: listening on lo")
	}

	r := run(t, "", "ipxping", "-udp-server", addr, "-c", "2", "-i", "50ms", echoAddr)
	expect(t, r, 0, "56 bytes from "+echoAddr+": id=1", "2 packets transmitted, 2 received")
	if dump != nil {
		// The tunnel decoded, on its unprivileged port.
		dump.wait(t, `UDP 127\.0\.0\.1:\d+ > `+regexp.QuoteMeta(addr)+` \S+ > `+regexp.QuoteMeta(echoAddr)+`: PEP len 56 hops 0`)
		dump.wait(t, `UDP `+regexp.QuoteMeta(addr)+` > 127\.0\.0\.1:\d+ `+regexp.QuoteMeta(echoAddr)+` > \S+: PEP len 56 hops 0`)
	}
	// As big as the tunnel carries.
	r = run(t, "", "ipxping", "-udp-server", addr, "-c", "1", "-s", "1424", echoAddr)
	expect(t, r, 0, "1 packets transmitted, 1 received")
	r = run(t, "", "ipxping", "-udp-server", addr, "-c", "1", "-s", "1425", echoAddr)
	if r.code != 2 || !strings.Contains(r.stderr, "over the link's MTU of 1424 bytes") {
		t.Errorf("-s 1425: exit %d, stderr %q", r.code, r.stderr)
	}

	r = run(t, "", "slist", "-udp-server", addr, "-type", "ffff")
	expect(t, r, 0, "FS1 (0004)", "LASER (0007)", "Total of 2 servers found")

	ln := start(t, "spxcat", "-udp-server", addr, "-l", "-v")
	lnAddr := ln.wait(t, `listening on (\S+)`)[1]
	r = run(t, "across the tunnel\n", "spxcat", "-udp-server", addr, "-v", lnAddr)
	expect(t, r, 0)
	ln.wait(t, "across the tunnel\n")
	if !strings.Contains(r.stderr, "sending up to 1380 data bytes per packet") {
		t.Errorf("dialer's -v lacks the negotiated size:\n%s", r.stderr)
	}
}

// TestTunnelNoServer bounds registration with spxcat's -timeout.
func TestTunnelNoServer(t *testing.T) {
	addr := freeUDP(t) // nobody answers there
	begin := time.Now()
	r := run(t, "", "spxcat", "-udp-server", addr, "-timeout", "500ms", "00000000:7f0000010001:5000")
	if r.code != 1 || !strings.Contains(r.stderr, addr) {
		t.Errorf("exit %d, stderr %q; want 1 naming the server", r.code, r.stderr)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("took %v, -timeout 500ms", d)
	}
}

// TestPrivilegedPort binds port 213 as an unprivileged user: the error
// says how to choose another port.
func TestPrivilegedPort(t *testing.T) {
	for _, args := range [][]string{
		{"ipxserver", "-addr", "127.0.0.1:213"},
		{"ipxroute", "-udp-listen", "127.0.0.1:213/a"},
	} {
		t.Run(args[0], func(t *testing.T) {
			if os.Getuid() != 0 {
				checkPrivilegeHint(t, run(t, "", args[0], args[1:]...))
				return
			}
			// As root, drop to nobody to see what a user sees.
			cmd := exec.Command(filepath.Join(binDir, args[0]), args[1:]...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			var errb bytes.Buffer
			cmd.Stderr = &errb
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Skipf("cannot run as nobody: %v", err)
			}
			checkPrivilegeHint(t, result{stderr: errb.String(), code: exit.ExitCode()})
		})
	}
}

func checkPrivilegeHint(t *testing.T, r result) {
	t.Helper()
	if r.code != 1 || !strings.Contains(r.stderr, "permission denied") || !strings.Contains(r.stderr, "choose another, e.g. 127.0.0.1:21300") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestAcrossNetworks joins two routing tunnel servers, on networks a and
// b, with a point-to-point link c. From a client on a, ipxping, slist and
// spxcat reach a server on b.
func TestAcrossNetworks(t *testing.T) {
	peerA, peerB := freeUDP(t), freeUDP(t)
	ra := start(t, "ipxroute", "-v", "-udp-listen", "127.0.0.1:0/a", "-udp-peer", peerA+"="+peerB+"/c", "-interval", "1s")
	tunnelA := ra.wait(t, `tunnel server on (\S+) for network 0000000a`)[1]
	rb := start(t, "ipxroute", "-udp-listen", "127.0.0.1:0/b", "-udp-peer", peerB+"="+peerA+"/c", "-interval", "1s")
	tunnelB := rb.wait(t, `tunnel server on (\S+) for network 0000000b`)[1]

	// A server on b: a tunnel client that learns its network from the
	// router, answers ping, advertises a file server and serves SPX.
	host := start(t, "ipxroute", "-udp-server", tunnelB, "-echo", "-sap", "4:FS-B:0451", "-interval", "1s")
	node := host.wait(t, `link 1: network 0000000b node (\w+)`)[1]
	ln := start(t, "spxcat", "-udp-server", tunnelB, "-l")
	lnAddr := ln.wait(t, `listening on (0000000b:\w+:5000)`)[1]

	r := until(t, "FS-B", "slist", "-udp-server", tunnelA)
	expect(t, r, 0, "FS-B                                             0000000b  "+node+"     3")

	r = run(t, "", "ipxping", "-udp-server", tunnelA, "-c", "2", "-i", "50ms", "0000000b:"+node)
	expect(t, r, 0, "hops=2", "2 packets transmitted, 2 received")

	r = run(t, "from network a\n", "spxcat", "-udp-server", tunnelA, lnAddr)
	expect(t, r, 0)
	ln.wait(t, "from network a\n")

	// Nobody advertises network d.
	r = run(t, "", "ipxping", "-udp-server", tunnelA, "-c", "1", "0000000d:020000000001")
	if r.code != 1 || !strings.Contains(r.stderr, "network 0000000d: no route") {
		t.Errorf("exit %d, stderr %q; want no route", r.code, r.stderr)
	}
}
