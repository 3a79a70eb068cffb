// Package mirrortest holds what tests and examples of mirrored servers
// share: a deterministic key-value Engine, and a Pair of servers with
// clients on in-memory segments, with the faults a test injects (crash,
// MSL cut, LAN partition).
package mirrortest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/ipxkit/ipxkit/mirror"
)

// KV operations, the first byte of a request.
const (
	OpPut = 'P' // key, value: set
	OpGet = 'G' // key: read
	OpCAS = 'C' // key, old, new: set to new if the value is old
)

// KV reply statuses, the first byte of a reply.
const (
	StatusOK       = 0
	StatusNotFound = 1
	StatusMismatch = 2 // CAS found another value
	StatusBad      = 3 // malformed request
)

// ErrBadImage reports a KV image that does not decode.
var ErrBadImage = errors.New("mirrortest: bad KV image")

// KV is a deterministic key-value store: a mirror.Engine. Requests are an
// operation byte then length-prefixed (1 byte) strings; replies a status
// byte then the value. Use Put, Get and CAS to encode requests and
// ParseReply to read replies.
type KV struct {
	m       map[string]string
	applied uint64
	out     []byte
}

var _ mirror.Engine = (*KV)(nil)

// NewKV returns an empty store.
func NewKV() *KV { return &KV{m: make(map[string]string)} }

// Applied returns the number of events applied.
func (kv *KV) Applied() uint64 { return kv.applied }

// Data returns a copy of the store's contents.
func (kv *KV) Data() map[string]string { return maps.Clone(kv.m) }

// Apply implements mirror.Engine.
func (kv *KV) Apply(ev mirror.Event) []byte {
	kv.applied++
	f, ok := fields(ev.Data)
	out := kv.out[:0]
	defer func() { kv.out = out[:0] }()
	switch {
	case !ok:
		out = append(out, StatusBad)
	case f.op == OpPut && f.n == 2:
		kv.m[f.s[0]] = f.s[1]
		out = append(out, StatusOK)
	case f.op == OpGet && f.n == 1:
		v, ok := kv.m[f.s[0]]
		if !ok {
			return append(out, StatusNotFound)
		}
		out = append(append(out, StatusOK), v...)
	case f.op == OpCAS && f.n == 3:
		if v, ok := kv.m[f.s[0]]; !ok && f.s[1] != "" || ok && v != f.s[1] {
			return append(append(out, StatusMismatch), v...)
		}
		kv.m[f.s[0]] = f.s[2]
		out = append(out, StatusOK)
	default:
		out = append(out, StatusBad)
	}
	return out
}

type parsed struct {
	op byte
	n  int
	s  [3]string
}

func fields(b []byte) (parsed, bool) {
	var p parsed
	if len(b) == 0 {
		return p, false
	}
	p.op, b = b[0], b[1:]
	for len(b) > 0 {
		if p.n == len(p.s) || int(b[0]) > len(b)-1 {
			return p, false
		}
		p.s[p.n] = string(b[1 : 1+b[0]])
		p.n++
		b = b[1+b[0]:]
	}
	return p, true
}

func encode(op byte, s ...string) []byte {
	b := []byte{op}
	for _, x := range s {
		b = append(b, byte(len(x)))
		b = append(b, x[:min(len(x), 255)]...)
	}
	return b
}

// Put encodes a put request.
func Put(k, v string) []byte { return encode(OpPut, k, v) }

// Get encodes a get request.
func Get(k string) []byte { return encode(OpGet, k) }

// CAS encodes a compare-and-set request: set k to new if it holds old
// ("" matches a missing key).
func CAS(k, old, new string) []byte { return encode(OpCAS, k, old, new) }

// ParseReply splits a reply into its status and value.
func ParseReply(b []byte) (status byte, value string, err error) {
	if len(b) == 0 {
		return 0, "", fmt.Errorf("mirrortest: empty reply: %w", io.ErrUnexpectedEOF)
	}
	return b[0], string(b[1:]), nil
}

// Snapshot implements mirror.Engine: the count of applied events, then
// the pairs in key order, each length-prefixed (4 bytes).
func (kv *KV) Snapshot(w io.Writer) error {
	bw := bufio.NewWriter(w)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], kv.applied)
	bw.Write(n[:])
	for _, k := range slices.Sorted(maps.Keys(kv.m)) {
		for _, s := range []string{k, kv.m[k]} {
			binary.BigEndian.PutUint32(n[:4], uint32(len(s)))
			bw.Write(n[:4])
			bw.WriteString(s)
		}
	}
	return bw.Flush()
}

// View implements mirror.Viewer: a copy of the map, which later puts do
// not change, so that the primary writes a big image without holding up
// requests.
func (kv *KV) View() mirror.Snapshotter {
	return &KV{m: maps.Clone(kv.m), applied: kv.applied}
}

// Restore implements mirror.Engine. On error the store is unchanged.
func (kv *KV) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(b) < 8 {
		return fmt.Errorf("mirrortest: KV image of %d bytes: %w", len(b), ErrBadImage)
	}
	applied := binary.BigEndian.Uint64(b)
	b = b[8:]
	m := make(map[string]string)
	for len(b) > 0 {
		var kvs [2]string
		for i := range kvs {
			if len(b) < 4 || int(binary.BigEndian.Uint32(b)) > len(b)-4 {
				return fmt.Errorf("mirrortest: KV image cut short: %w", ErrBadImage)
			}
			n := int(binary.BigEndian.Uint32(b))
			kvs[i] = string(b[4 : 4+n])
			b = b[4+n:]
		}
		m[kvs[0]] = kvs[1]
	}
	kv.m, kv.applied = m, applied
	return nil
}
