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

// KV is a deterministic key-value store: a mirror.Engine and a
// mirror.Viewer. Requests are an operation byte then length-prefixed (1
// byte) strings; replies a status byte then the value. Use Put, Get and
// CAS to encode requests and ParseReply to read replies.
//
// The store is split into kvShards maps, copied on write after a View:
// a view costs a copy of the shard pointers, and the first write to a
// shard after it a copy of that shard alone, so that a primary writing a
// big image holds its requests for microseconds, not for a copy of the
// whole store.
type KV struct {
	shards  [kvShards]*kvShard
	gen     uint64 // bumped by View: a shard of an older generation may be a view's
	applied uint64
	out     []byte
}

const kvShards = 256

type kvShard struct {
	m   map[string]string
	gen uint64
}

var (
	_ mirror.Engine = (*KV)(nil)
	_ mirror.Viewer = (*KV)(nil)
)

// NewKV returns an empty store.
func NewKV() *KV {
	kv := &KV{}
	kv.reset()
	return kv
}

func (kv *KV) reset() {
	for i := range kv.shards {
		kv.shards[i] = &kvShard{m: make(map[string]string), gen: kv.gen}
	}
}

// shardOf is FNV-1a: deterministic, so that both servers agree.
func shardOf(k string) int {
	h := uint32(2166136261)
	for i := 0; i < len(k); i++ {
		h = (h ^ uint32(k[i])) * 16777619
	}
	return int(h % kvShards)
}

func (kv *KV) get(k string) (string, bool) {
	v, ok := kv.shards[shardOf(k)].m[k]
	return v, ok
}

func (kv *KV) set(k, v string) {
	i := shardOf(k)
	s := kv.shards[i]
	if s.gen != kv.gen {
		s = &kvShard{m: maps.Clone(s.m), gen: kv.gen}
		kv.shards[i] = s
	}
	s.m[k] = v
}

// Applied returns the number of events applied.
func (kv *KV) Applied() uint64 { return kv.applied }

// Data returns a copy of the store's contents.
func (kv *KV) Data() map[string]string {
	m := make(map[string]string)
	for _, s := range kv.shards {
		maps.Copy(m, s.m)
	}
	return m
}

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
		kv.set(f.s[0], f.s[1])
		out = append(out, StatusOK)
	case f.op == OpGet && f.n == 1:
		v, ok := kv.get(f.s[0])
		if !ok {
			return append(out, StatusNotFound)
		}
		out = append(append(out, StatusOK), v...)
	case f.op == OpCAS && f.n == 3:
		if v, ok := kv.get(f.s[0]); !ok && f.s[1] != "" || ok && v != f.s[1] {
			return append(append(out, StatusMismatch), v...)
		}
		kv.set(f.s[0], f.s[2])
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
func (kv *KV) Snapshot(w io.Writer) error { return snapshot(w, kv.applied, &kv.shards) }

// kvView is a KV's state at a View: shards no write changes any more.
type kvView struct {
	shards  [kvShards]*kvShard
	applied uint64
}

// Snapshot implements mirror.Snapshotter.
func (v *kvView) Snapshot(w io.Writer) error { return snapshot(w, v.applied, &v.shards) }

func snapshot(w io.Writer, applied uint64, shards *[kvShards]*kvShard) error {
	bw := bufio.NewWriter(w)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], applied)
	bw.Write(n[:])
	var keys []string
	for _, s := range shards {
		keys = slices.AppendSeq(keys, maps.Keys(s.m))
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, s := range []string{k, shards[shardOf(k)].m[k]} {
			binary.BigEndian.PutUint32(n[:4], uint32(len(s)))
			bw.Write(n[:4])
			bw.WriteString(s)
		}
	}
	return bw.Flush()
}

// View implements mirror.Viewer: the shards as they are, which later
// writes copy before they change them.
func (kv *KV) View() mirror.Snapshotter {
	v := &kvView{shards: kv.shards, applied: kv.applied}
	kv.gen++
	return v
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
	var shards [kvShards]*kvShard
	for i := range shards {
		shards[i] = &kvShard{m: make(map[string]string), gen: kv.gen}
	}
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
		shards[shardOf(kvs[0])].m[kvs[0]] = kvs[1]
	}
	kv.shards, kv.applied = shards, applied
	return nil
}
