// Package tsharktest helps tests cross-check the ipxkit codecs against
// Wireshark's dissectors: write frames to a pcap file, run tshark on it and
// read back the dissected fields.
//
// Typical use:
//
//	tsharktest.Require(t)
//	path := tsharktest.WritePcap(t, frames)
//	rows := tsharktest.Fields(t, path, nil, "ipx.len", "ipx.src.socket")
//	// rows[i][j] is field j of frame i, as tshark prints it.
//
// tshark prints some fields in its own formats (hex with a 0x prefix,
// nodes with colons, repeated fields joined by commas); compare with what
// it actually prints, which a test can see by running the same command.
package tsharktest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Path returns the path of tshark, or "" if it is not installed.
func Path() string {
	p, err := exec.LookPath("tshark")
	if err != nil {
		return ""
	}
	return p
}

// Require skips the test when tshark is not installed. CI installs it
// (apt-get install tshark), so the test runs there.
func Require(t testing.TB) {
	t.Helper()
	if Path() == "" {
		t.Skip("tshark not found in PATH; install Wireshark's tshark (apt-get install tshark) to run this cross-check")
	}
}

// WritePcap writes frames, each a whole Ethernet frame without FCS, to a
// new pcap file (link type Ethernet) in t.TempDir and returns its path.
// Frame i gets timestamp 2000-01-01 00:00:00 UTC plus i milliseconds.
func WritePcap(t testing.TB, frames [][]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "frames.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("tsharktest: %v", err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatalf("tsharktest: pcap header: %v", err)
	}
	base := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, fr := range frames {
		ci := gopacket.CaptureInfo{
			Timestamp:     base.Add(time.Duration(i) * time.Millisecond),
			CaptureLength: len(fr),
			Length:        len(fr),
		}
		if err := w.WritePacket(ci, fr); err != nil {
			t.Fatalf("tsharktest: frame %d: %v", i, err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatalf("tsharktest: %v", err)
	}
	return path
}

// Fields runs
//
//	tshark -r pcapPath [extraArgs...] -T fields -E separator=/t -e f1 -e f2 ...
//
// and returns one row per frame, each with one string per requested field
// (empty where tshark printed nothing). extraArgs can select dissectors,
// for example []string{"-d", "udp.port==213,ipx"}, or pass preferences
// with -o. It fails the test if tshark fails or prints anything on stderr
// other than its usual warnings about running as root. Call Require first.
func Fields(t testing.TB, pcapPath string, extraArgs []string, fields ...string) [][]string {
	t.Helper()
	args := []string{"-n", "-r", pcapPath}
	args = append(args, extraArgs...)
	args = append(args, "-T", "fields", "-E", "separator=/t")
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(Path(), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tsharktest: tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if msg := unexpectedStderr(stderr.String()); msg != "" {
		t.Fatalf("tsharktest: tshark %s printed:\n%s", strings.Join(args, " "), msg)
	}
	out := strings.TrimRight(stdout.String(), "\n")
	if out == "" {
		return nil
	}
	lines := strings.Split(out, "\n")
	rows := make([][]string, len(lines))
	for i, line := range lines {
		row := strings.Split(line, "\t")
		for len(row) < len(fields) {
			row = append(row, "")
		}
		rows[i] = row
	}
	return rows
}

// unexpectedStderr drops the warnings tshark prints when run as root or
// without a writable configuration directory, and returns the rest.
func unexpectedStderr(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		l := strings.TrimSpace(line)
		switch {
		case l == "":
		case strings.Contains(l, "Running as user \"root\""):
		case strings.Contains(l, "running as root"):
		case strings.Contains(l, "Couldn't create") && strings.Contains(l, "config"):
		default:
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
