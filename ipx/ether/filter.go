package ether

import (
	"encoding/binary"
	"fmt"

	"github.com/ipxkit/ipxkit/ipx"
	"golang.org/x/net/bpf"
)

// Linux link-layer protocol numbers a packet socket binds to
// (<linux/if_ether.h>). eth_type_trans gives 802.3 frames whose payload
// starts with 0xFFFF the pseudo-protocol ETH_P_802_3 and every other 802.3
// frame ETH_P_802_2, so a socket bound to 0x8137 sees Ethernet II only.
const (
	ethPAll   = 0x0003
	ethP8023  = 0x0001
	ethP8022  = 0x0004
	snapLen   = 0xFFFF // bytes a BPF accept keeps
	llcIPXSAP = 0xE0E0
	llcSNAP   = 0xAAAA
)

// protocolFor is the protocol a socket for frame type t binds to: the
// narrowest one that delivers t, so the kernel wakes us for fewer frames.
func protocolFor(t ipx.FrameType) int {
	switch t {
	case ipx.FrameEthernetII:
		return ipx.EtherType
	case ipx.Frame8023Raw:
		return ethP8023
	case ipx.Frame8022, ipx.FrameSNAP:
		return ethP8022
	}
	return ethPAll
}

// label names a position in the filter program.
type label int

const (
	lDstBcast label = iota + 1
	lSrc
	lType
	lLLC
	l8022
	lSNAP
	lAcceptEII
	lAcceptRaw
	lAccept8022
	lAcceptSNAP
	lDrop
)

// insn is an instruction whose jump targets are labels, resolved by
// assemble. A load or return leaves jt and jf zero.
type insn struct {
	at     label // label of this instruction, or 0
	ins    bpf.Instruction
	cond   bpf.JumpTest
	val    uint32
	jt, jf label // for conditional jumps; 0 means the next instruction
}

// filterProgram returns the classic BPF program that keeps only IPX frames
// of type t (all four for 0) sent to node or to broadcast by a source other
// than node. The Go-side checks in classify repeat these tests; the filter
// only spares the kernel and us the wake-ups.
func filterProgram(node ipx.Node, t ipx.FrameType) ([]bpf.Instruction, error) {
	w := binary.BigEndian.Uint32(node[0:4])
	h := uint32(binary.BigEndian.Uint16(node[4:6]))
	accept := func(ft ipx.FrameType) uint32 {
		if t == 0 || t == ft {
			return snapLen
		}
		return 0
	}
	p := []insn{
		// Destination: our MAC or broadcast.
		{ins: bpf.LoadAbsolute{Off: 0, Size: 4}},
		{cond: bpf.JumpEqual, val: w, jf: lDstBcast},
		{ins: bpf.LoadAbsolute{Off: 4, Size: 2}},
		{cond: bpf.JumpEqual, val: h, jt: lSrc, jf: lDrop},
		{at: lDstBcast, cond: bpf.JumpEqual, val: 0xFFFFFFFF, jf: lDrop},
		{ins: bpf.LoadAbsolute{Off: 4, Size: 2}},
		{cond: bpf.JumpEqual, val: 0xFFFF, jf: lDrop},
		// Source: not our MAC (our own frames come back on ETH_P_ALL).
		{at: lSrc, ins: bpf.LoadAbsolute{Off: 6, Size: 4}},
		{cond: bpf.JumpEqual, val: w, jf: lType},
		{ins: bpf.LoadAbsolute{Off: 10, Size: 2}},
		{cond: bpf.JumpEqual, val: h, jt: lDrop, jf: lType},
		// Framing.
		{at: lType, ins: bpf.LoadAbsolute{Off: 12, Size: 2}},
		{cond: bpf.JumpEqual, val: ipx.EtherType, jt: lAcceptEII},
		{cond: bpf.JumpGreaterOrEqual, val: 0x0600, jt: lDrop},
		{ins: bpf.LoadAbsolute{Off: 14, Size: 2}},
		{cond: bpf.JumpEqual, val: 0xFFFF, jt: lAcceptRaw},
		{cond: bpf.JumpEqual, val: llcIPXSAP, jt: l8022},
		{cond: bpf.JumpEqual, val: llcSNAP, jt: lSNAP, jf: lDrop},
		{at: l8022, ins: bpf.LoadAbsolute{Off: 16, Size: 1}},
		{cond: bpf.JumpEqual, val: 0x03, jt: lAccept8022, jf: lDrop},
		{at: lSNAP, ins: bpf.LoadAbsolute{Off: 16, Size: 4}},
		{cond: bpf.JumpEqual, val: 0x03000000, jf: lDrop},
		{ins: bpf.LoadAbsolute{Off: 20, Size: 2}},
		{cond: bpf.JumpEqual, val: ipx.EtherType, jt: lAcceptSNAP, jf: lDrop},
		{at: lAcceptEII, ins: bpf.RetConstant{Val: accept(ipx.FrameEthernetII)}},
		{at: lAcceptRaw, ins: bpf.RetConstant{Val: accept(ipx.Frame8023Raw)}},
		{at: lAccept8022, ins: bpf.RetConstant{Val: accept(ipx.Frame8022)}},
		{at: lAcceptSNAP, ins: bpf.RetConstant{Val: accept(ipx.FrameSNAP)}},
		{at: lDrop, ins: bpf.RetConstant{Val: 0}},
	}
	return assemble(p)
}

// assemble resolves labels into the forward skips classic BPF uses.
func assemble(p []insn) ([]bpf.Instruction, error) {
	pos := make(map[label]int)
	for i, in := range p {
		if in.at != 0 {
			pos[in.at] = i
		}
	}
	skip := func(i int, l label) (uint8, error) {
		if l == 0 {
			return 0, nil
		}
		j, ok := pos[l]
		if !ok || j <= i || j-i-1 > 0xFF {
			return 0, fmt.Errorf("ether: filter label %d unreachable from %d", l, i)
		}
		return uint8(j - i - 1), nil
	}
	out := make([]bpf.Instruction, len(p))
	for i, in := range p {
		if in.ins != nil {
			out[i] = in.ins
			continue
		}
		jt, err := skip(i, in.jt)
		if err != nil {
			return nil, err
		}
		jf, err := skip(i, in.jf)
		if err != nil {
			return nil, err
		}
		out[i] = bpf.JumpIf{Cond: in.cond, Val: in.val, SkipTrue: jt, SkipFalse: jf}
	}
	return out, nil
}
